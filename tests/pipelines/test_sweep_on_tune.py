"""Sweeps on Ray are driven by Ray Tune (its Optuna search, a scheduler that asks the
sweep's pruner): the same seed tries the same values as on this machine, the pruner
stops the same trials, a trial's worker that dies fails that trial alone, each trial is
told to the caller as it ends, and Ctrl-C stops the sweep (Tune's own handler ended it
quietly, exit 0, as if every trial had run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline_project import Project, alpha_grid, log_numbers, one_training_step

import prodml
from prodml.client import Client
from prodml.pipelines.sweep import Trial

STEPS = """
import os

import pyarrow as pa


def prep(numbers: pa.Table) -> pa.Table:
    return pa.table({"x": [v * 2 for v in numbers["x"].to_pylist()]})


def train(table: pa.Table, alpha: float, run) -> dict:
    if alpha == 0.9:
        os._exit(3)
    for step in range(1, 6):
        run.log_metric("curve", alpha * step, step=step)
    return {"score": -((alpha - 0.3) ** 2)}
"""
PIPELINE = """
name: tuned
config:
  train: {alpha: 0.5}
steps:
  - {name: prep, function: "steps:prep", inputs: {numbers: numbers@latest}}
  - {name: train, function: "steps:train", inputs: {table: prep}}
"""


def _project(project: Project, client: Client) -> Project:
    log_numbers(client, [1, 2, 3])
    project.write("steps.py", STEPS)
    project.write("pipeline.yaml", PIPELINE)
    return project


def _states(result: Any) -> dict[float, str]:
    return {t.values["train.alpha"]: t.outcome.state for t in result.trials}


def _running(client: Client) -> list[str]:
    runs = prodml.search_runs("experiment = tuned", limit=500, client=client).runs
    return [r.id for r in runs if r.status.value == "running"]


def test_the_pruner_stops_the_same_trials_on_ray_as_on_this_machine(
    project: Project, sqlite_client: Client, client: Client, cluster: str
) -> None:
    _project(project, sqlite_client)
    log_numbers(client, [1, 2, 3])  # a second store: no trial reuses the other's steps
    space = {
        "objective": "score",
        "sampler": "grid",
        "seed": 3,
        "pruner": "median",
        "intermediate": "curve",
        "parameters": {"train.alpha": {"choice": [0.5, 0.6, 0.7, 0.1, 0.05, 0.8]}},
    }

    here = prodml.sweep(project.pipeline, space, trials=6, client=sqlite_client)
    told: list[Trial] = []
    tuned = prodml.sweep(
        project.pipeline, space, trials=6, executor="ray", address=cluster,
        report=told.append, client=client,
    )  # fmt: skip

    assert "pruned" in _states(here).values()
    assert _states(tuned) == _states(here)
    assert sorted(t.number for t in told) == list(range(6))  # each told as it ended
    for trial in tuned.trials:
        run = client.metadata.get_run(trial.outcome.run_id or "")
        assert run.status.value == "finished"
        if trial.outcome.state == "pruned":
            assert run.tags["prodml.pruned"] == "train"  # ended by its worker, as here
            assert "score" not in run.metrics
        else:
            assert run.metrics["score"] == pytest.approx(trial.outcome.value)
    assert _running(client) == []
    assert here.best is not None
    best = prodml.best_trial(tuned.name, client=client)
    assert best.metrics["score"] == pytest.approx(here.best.outcome.value)


def test_a_seed_tries_the_same_values_on_ray_two_at_a_time(
    project: Project, sqlite_client: Client, cluster: str
) -> None:
    _project(project, sqlite_client)
    space = {
        "objective": "score",
        "sampler": "random",
        "seed": 5,
        "parameters": {"train.alpha": {"float": [0.0, 0.8]}},
    }

    tuned = prodml.sweep(
        project.pipeline, space, trials=4, parallel=2, executor="ray", address=cluster,
        client=sqlite_client,
    )  # fmt: skip
    here = prodml.sweep(project.pipeline, space, trials=4, parallel=2, client=sqlite_client)

    assert [t.values for t in tuned.trials] == [t.values for t in here.trials]
    assert [t.outcome.value for t in tuned.trials] == [t.outcome.value for t in here.trials]
    assert tuned.workers == 2
    assert all(t.outcome.ran == ("train",) for t in tuned.trials)  # prep ran once, first
    assert all(t.outcome.seconds > 0 for t in tuned.trials)
    # nothing made Tune load its logger integrations (MLflow's alone takes 0.7 s of CPU)
    assert "ray.air.integrations.mlflow" not in sys.modules


def test_a_trial_whose_ray_worker_dies_fails_alone(
    project: Project, sqlite_client: Client, cluster: str
) -> None:
    _project(project, sqlite_client)
    result = prodml.sweep(
        project.pipeline, alpha_grid(0.1, 0.9, 0.3), trials=3, parallel=2, executor="ray",
        address=cluster, client=sqlite_client,
    )  # fmt: skip

    states = {t.values["train.alpha"]: t.outcome for t in result.trials}
    assert states[0.9].state == "failed" and "worker process" in (states[0.9].error or "")
    assert states[0.1].state == states[0.3].state == "complete"
    assert result.best is not None and result.best.values == {"train.alpha": 0.3}
    assert _running(sqlite_client) == []
    tune_files = Path(sqlite_client.settings.home) / "sweeps" / "tune"
    assert not list(tune_files.rglob("*"))  # Tune's experiment is not kept


SLOW = """
import time

import pyarrow as pa


def train(numbers: pa.Table, alpha: float) -> dict:
    time.sleep(30)
    return {"score": alpha}
"""


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [
        (signal.SIGINT, 130, "interrupted (Ctrl-C)"),
        (signal.SIGTERM, 143, "stopped by SIGTERM before"),
    ],
)
def test_ctrl_c_stops_a_sweep_on_ray_and_ends_the_runs_of_its_running_trials(
    project: Project, sqlite_client: Client, cluster: str, stop: int, code: int, said: str
) -> None:
    one_training_step(project, sqlite_client, "tuned", SLOW, "{alpha: 0.5}")
    (project.folder / "space.json").write_text(json.dumps(alpha_grid(0.1, 0.2, 0.3, 0.4)))
    env = {**os.environ, "PRODML_HOME": sqlite_client.settings.home}
    command = [
        str(Path(sys.executable).with_name("prodml")), "sweep", "pipeline.yaml", "--space",
        "space.json", "--trials", "4", "--parallel", "2", "--executor", "ray",
        "--address", cluster,
    ]  # fmt: skip
    sweep = subprocess.Popen(
        command, cwd=project.folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len([r for r in _trial_runs(sqlite_client) if r.status.value == "running"]) < 2:
            assert sweep.poll() is None, sweep.communicate()
            assert time.monotonic() < deadline, "no two trials started"
            time.sleep(0.2)
        sweep.send_signal(stop)
        _, err = sweep.communicate(timeout=60)
    finally:
        sweep.kill()

    assert sweep.returncode == code, err[-2000:]
    assert _running(sqlite_client) == []
    ended = [r for r in _trial_runs(sqlite_client) if r.status.value == "failed"]
    assert len(ended) == 2
    assert all(said in (r.error or "") for r in ended)


def test_ctrl_c_stops_a_sweep_on_the_callers_own_ray_and_leaves_that_ray_up(
    project: Project, sqlite_client: Client, cluster: str
) -> None:
    import ray

    one_training_step(project, sqlite_client, "tuned", SLOW, "{alpha: 0.5}")
    watcher = Client(home=sqlite_client.settings.home, user="watcher")

    def press_ctrl_c_when_two_trials_run() -> None:
        deadline = time.monotonic() + 120
        while len([r for r in _trial_runs(watcher) if r.status.value == "running"]) < 2:
            if time.monotonic() > deadline:
                return
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    assert ray.is_initialized()  # the caller's session, which the sweep joins
    threading.Thread(target=press_ctrl_c_when_two_trials_run, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        prodml.sweep(
            project.pipeline, alpha_grid(0.1, 0.2, 0.3, 0.4), trials=4, parallel=2,
            executor="ray", address=cluster, client=sqlite_client,
        )  # fmt: skip

    assert ray.is_initialized()
    ended = [r for r in _trial_runs(sqlite_client) if r.status.value == "failed"]
    assert len(ended) == 2
    assert all("interrupted (Ctrl-C)" in (r.error or "") for r in ended)
    assert _running(sqlite_client) == []
    # the trials' workers are gone (left running, they would hold a CPU each for 30 s)
    deadline = time.monotonic() + 10
    while (free := ray.available_resources()).get("CPU", 0) < 2:  # type: ignore[no-untyped-call]
        assert time.monotonic() < deadline, free
        time.sleep(0.2)
    watcher.close()


def _trial_runs(client: Client) -> list[Any]:
    runs = prodml.search_runs("experiment = tuned", limit=500, client=client).runs
    return [r for r in runs if "prodml.trial" in r.tags]


READS_A_FILE = """
from pathlib import Path

import pyarrow as pa


def train(numbers: pa.Table, alpha: float) -> dict:
    return {"score": alpha * float(Path("weights.txt").read_text())}
"""


def test_a_step_on_ray_reads_a_relative_path_from_where_the_sweep_ran(
    project: Project, sqlite_client: Client, cluster: str, tmp_path: Path
) -> None:
    one_training_step(project, sqlite_client, "tuned", READS_A_FILE, "{alpha: 0.5}")
    (tmp_path / "weights.txt").write_text("10")  # the tests run in tmp_path

    result = prodml.sweep(
        project.pipeline, alpha_grid(0.1, 0.2), trials=2, parallel=2, executor="ray",
        address=cluster, client=sqlite_client,
    )  # fmt: skip

    assert sorted(t.outcome.value or 0 for t in result.trials) == [1.0, 2.0], [
        t.outcome.error for t in result.trials
    ]


def test_hyperband_stops_the_same_trials_on_ray_as_on_this_machine(
    project: Project, sqlite_client: Client, tmp_path: Path, cluster: str
) -> None:
    _project(project, sqlite_client)
    other = Client(home=str(tmp_path / "other"), user="tester", flush_interval=0.05)
    log_numbers(other, [1, 2, 3])  # a second store: no trial reuses the other's steps
    space = {
        "objective": "score",
        "sampler": "random",
        "seed": 1,
        "pruner": "hyperband",
        "intermediate": "curve",
        "parameters": {"train.alpha": {"float": [0.0, 1.0]}},
    }
    try:
        here = prodml.sweep(project.pipeline, space, 10, name="hb", client=sqlite_client)
        tuned = prodml.sweep(
            project.pipeline, space, 10, executor="ray", address=cluster, name="hb", client=other
        )
    finally:
        other.close()

    assert "pruned" in _states(here).values()
    assert _states(tuned) == _states(here)
