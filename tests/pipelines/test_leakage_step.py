"""The leakage check a training step declares in the pipeline file, run on the step's
inputs before it: hard findings stop the pipeline (nothing of the step is cached) and
say how to go on; accepted with a reason, the step runs and the reason is recorded;
soft findings are warnings under the step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.domain.run import RunStatus
from prodml.errors import InvalidInputError

PIPELINE = """
name: leaky
config:
  split: {overlap: 2}
  train: {weight: 1.0}
steps:
  - {name: split, function: steps:split, inputs: {table: numbers@latest}}
  - name: train
    function: steps:train
    inputs: {table: split.train, valid: split.valid}
    leakage: {train: table, valid: valid, keys: [x], max_overlap: MAX}
"""

STEPS = """
import pyarrow as pa


def split(table: pa.Table, overlap: int) -> dict[str, pa.Table]:
    half = table.num_rows // 2
    return {"train": table.slice(0, half + overlap), "valid": table.slice(half)}


def train(table: pa.Table, valid: pa.Table, weight: float) -> dict[str, float]:
    return {"rows": weight * table.num_rows}
"""


@pytest.fixture
def leaky(sqlite_client: Client, project: Project) -> Project:
    """Ten numbers split in halves, the training half reaching two rows into the other."""
    log_numbers(sqlite_client, list(range(10)))
    project.write("pipeline.yaml", PIPELINE.replace("MAX", "0.0"))
    project.write("steps.py", STEPS)
    return project


def test_hard_findings_stop_the_step_and_say_how_to_train_anyway(
    sqlite_client: Client, leaky: Project
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        leaky.run(sqlite_client)

    message = str(refused.value)
    assert "Step 'train': leakage between its inputs 'table' (training) and 'valid'" in message
    assert "key_overlap of x" in message
    assert "--accept-leakage" in message and "accept_leakage=" in message
    assert "prodml datasets leakage" not in message  # not the command this is about
    assert prodml.step_cache("leaky", "train", client=sqlite_client) == []
    runs = sqlite_client.metadata.list_runs(experiment="leaky")
    assert {run.status for run in runs if run.tags.get("prodml.step") != "split"} == {
        RunStatus.FAILED
    }
    (train,) = [run for run in runs if run.tags.get("prodml.step") == "train"]
    assert train.tags["prodml.leakage"] == "refused"


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_blank_reason_is_refused_before_any_step_runs(
    sqlite_client: Client, leaky: Project, reason: str
) -> None:
    with pytest.raises(InvalidInputError, match=r"--accept-leakage .* needs a reason"):
        prodml.run_pipeline(leaky.pipeline, client=sqlite_client, accept_leakage=reason)
    with pytest.raises(InvalidInputError, match="needs a reason"):
        prodml.sweep(
            leaky.pipeline,
            {"objective": "rows", "parameters": {"train.weight": {"choice": [1.0]}}},
            trials=1,
            client=sqlite_client,
            accept_leakage=reason,
        )

    assert sqlite_client.metadata.list_runs(experiment="leaky") == []


def test_accepted_with_a_reason_the_step_runs_and_the_reason_is_recorded(
    sqlite_client: Client, leaky: Project
) -> None:
    why = "the overlap is two rows of a toy table"

    result = prodml.run_pipeline(leaky.pipeline, client=sqlite_client, accept_leakage=why)

    assert result.ran == ["split", "train"] and result.metrics == {"rows": 7.0}
    train = prodml.get_run(result.steps[1].run_id, client=sqlite_client)
    assert train.tags["prodml.leakage"] == "accepted"
    events = sqlite_client.metadata.list_events(actions=["run.leakage_forced"])
    assert [(e.subject_id, e.reason) for e in events] == [(train.id, why)]


def test_findings_within_the_allowed_overlap_are_warnings_under_the_step(
    sqlite_client: Client, leaky: Project
) -> None:
    leaky.write("pipeline.yaml", PIPELINE.replace("MAX", "0.5"))

    result = leaky.run(sqlite_client)

    assert result.ran == ["split", "train"]
    (warning,) = result.steps[1].warnings
    assert warning.startswith("Step 'train': leakage:") and "max_overlap" in warning
    train = prodml.get_run(result.steps[1].run_id, client=sqlite_client)
    assert train.tags["prodml.leakage"] == "soft"


def test_the_command_refuses_then_trains_with_accept_leakage(
    sqlite_client: Client, leaky: Project
) -> None:
    def prodml_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "prodml.cli.main", "run", str(leaky.pipeline), *args],
            capture_output=True,
            text=True,
            cwd=leaky.folder,
            env={**os.environ, "PRODML_HOME": str(sqlite_client.settings.home)},
            timeout=120,
            check=False,
        )

    refused = prodml_run()
    accepted = prodml_run("--accept-leakage", "toy data")

    assert refused.returncode == 1, refused.stderr
    assert "--accept-leakage" in refused.stderr and "Traceback" not in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert "1 of 2 steps ran (train), 1 reused (split)" in " ".join(accepted.stdout.split())


def test_the_accept_leakage_option_is_in_the_commands_help(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prodml.cli.main", "run", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PRODML_HOME": str(tmp_path / ".prodml"), "COLUMNS": "120"},
        timeout=60,
        check=False,
    )

    assert done.returncode == 0 and "--accept-leakage" in done.stdout


def test_a_sweeps_trials_are_refused_then_train_with_accept_leakage(
    sqlite_client: Client, leaky: Project
) -> None:
    space = {
        "objective": "rows",
        "sampler": "grid",
        "parameters": {"train.weight": {"choice": [1.0, 2.0]}},
    }

    refused = prodml.sweep(leaky.pipeline, space, trials=2, client=sqlite_client)
    accepted = prodml.sweep(
        leaky.pipeline, space, trials=2, client=sqlite_client, accept_leakage="toy data"
    )

    assert [t.outcome.state for t in refused.trials] == ["failed", "failed"]
    assert all("--accept-leakage" in (t.outcome.error or "") for t in refused.trials)
    assert sorted(t.outcome.value or 0 for t in accepted.trials) == [7.0, 14.0]
    sweep_run = prodml.get_run(accepted.run_id, client=sqlite_client)
    assert sweep_run.config["accept_leakage"] == "toy data"
