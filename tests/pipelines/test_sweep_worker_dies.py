"""A trial whose worker process dies (the system killed it for memory, a crash in
native code, os._exit) is a failed trial saying so; the sweep goes on with fresh
workers and leaves no run of the dead workers running. The whole sweep stopped with
'Unexpected error: BrokenProcessPool' and its trials' runs stayed running."""

from __future__ import annotations

import pytest
from pipeline_project import Project, alpha_grid, one_training_step

import prodml
from prodml.client import Client

STEPS = """
import os

import pyarrow as pa


def train(numbers: pa.Table, alpha: float) -> dict:
    if alpha == 0.7:
        os._exit(3)
    return {"score": alpha}
"""


def test_a_trial_whose_worker_dies_fails_and_the_sweep_goes_on(
    project: Project, sqlite_client: Client
) -> None:
    one_training_step(project, sqlite_client, "dies", STEPS, "{alpha: 0.5}")
    space = alpha_grid(0.1, 0.7, 0.2, 0.3, 0.4)
    result = prodml.sweep(project.pipeline, space, trials=5, parallel=2, client=sqlite_client)

    assert len(result.trials) == 5
    states = {t.values["train.alpha"]: t.outcome for t in result.trials}
    assert states[0.7].state == "failed"
    assert "worker process" in (states[0.7].error or "")
    assert sum(o.state == "complete" for o in states.values()) >= 3
    assert result.best is not None
    runs = prodml.search_runs("experiment = dies", limit=500, client=sqlite_client).runs
    assert [r.id for r in runs if r.status.value == "running"] == []


def test_a_trial_whose_worker_raises_outside_its_steps_fails_with_that_error(
    project: Project, sqlite_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodml.pipelines import pools, trials

    def broken(task: trials.TrialTask) -> trials.TrialOutcome:
        raise RuntimeError("the study's journal is not on this machine")

    monkeypatch.setattr(pools, "run_trial", broken)
    one_training_step(project, sqlite_client, "dies", STEPS, "{alpha: 0.5}")
    result = prodml.sweep(project.pipeline, alpha_grid(0.1), trials=1, client=sqlite_client)

    (trial,) = result.trials
    assert trial.outcome.state == "failed"
    assert trial.outcome.error == (
        "It failed in its worker: RuntimeError: the study's journal is not on this machine"
    )
