"""``prodml run PIPELINE.yaml`` as a user runs it: a line per step as it finishes, a
summary, JSON for scripts, overrides and forced steps; a mistake is one line and
exit code 1, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from cli_process import COMMAND, run_prodml

import prodml
from pipelines.pipeline_project import CHAIN, CHAIN_STEPS
from prodml.client import Client

# The chain's steps and a few that go wrong.
STEPS = (
    CHAIN_STEPS
    + """

def noisy(table: pa.Table) -> float:
    import random

    return random.random()


def broken(table: pa.Table) -> pa.Table:
    raise RuntimeError("the disk is full")


def unstorable(table: pa.Table) -> object:
    return object()


def slow(table: pa.Table, factor: int = 1) -> pa.Table:
    import time

    time.sleep(60)
    return table
"""
)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A store holding the dataset ``numbers``, beside a project folder (no git checkout)."""
    folder = tmp_path / ".prodml"
    client = Client(home=str(folder), user="dana", flush_interval=0.05)
    prodml.log_dataset("numbers", pa.table({"x": [1, 2, 3]}), client=client)
    client.close()
    project = tmp_path / "project"
    project.mkdir()
    _write(project, "pipeline.yaml", CHAIN)
    _write(project, "steps.py", STEPS)
    _write(
        project, "broken.py", "import a_library_nobody_installed\n\n\ndef total(table):\n    pass\n"
    )
    return folder


PIPELINE_FILE = "project/pipeline.yaml"


def test_a_run_prints_a_line_per_step_and_a_summary_and_a_rerun_reuses_every_step(
    home: Path,
) -> None:
    first = run_prodml(home, "run", PIPELINE_FILE)
    again = run_prodml(home, "run", PIPELINE_FILE)

    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["load", "ran"],
        ["scale", "ran"],
        ["total", "ran"],
    ]
    assert lines[0].split()[-1] == "demo-load@1" and lines[0].split()[3] == "s"
    assert "all 3 steps ran (load, scale, total)" in first.stdout
    assert "metrics: total=18" in first.stdout
    assert first.stdout.startswith("run ") and "details: prodml runs show " in first.stdout
    assert again.returncode == 0, again.stderr
    assert [line.split()[1] for line in again.stderr.splitlines()] == ["cached"] * 3
    assert "nothing ran, all 3 steps reused from the cache" in again.stdout
    assert "metrics: total=18" in again.stdout


def test_json_gives_the_result_for_scripts(home: Path) -> None:
    done = run_prodml(home, "run", PIPELINE_FILE, "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["pipeline"] == "demo" and result["metrics"] == {"total": 18.0}
    assert [(s["name"], s["cached"]) for s in result["steps"]] == [
        ("load", False),
        ("scale", False),
        ("total", False),
    ]
    assert result["steps"][0]["outputs"][0]["ref"] == "demo-load@1"
    assert result["steps"][0]["outputs"][0]["kind"] == "dataset"
    assert done.stderr == ""


def test_overrides_and_forced_steps_rerun_what_they_reach(home: Path) -> None:
    run_prodml(home, "run", PIPELINE_FILE)

    overridden = run_prodml(home, "run", PIPELINE_FILE, "-s", "scale.factor=4", "--json")
    forced = run_prodml(home, "run", PIPELINE_FILE, "--force", "scale", "--json")

    assert overridden.returncode == 0, overridden.stderr
    ran = [s["name"] for s in json.loads(overridden.stdout)["steps"] if not s["cached"]]
    assert ran == ["scale", "total"]
    assert json.loads(overridden.stdout)["metrics"] == {"total": 24.0}
    assert forced.returncode == 0, forced.stderr
    ran = [s["name"] for s in json.loads(forced.stdout)["steps"] if not s["cached"]]
    assert ran == ["scale", "total"]


def test_the_summary_names_the_steps_that_ran_and_those_reused(home: Path) -> None:
    run_prodml(home, "run", PIPELINE_FILE)

    done = run_prodml(home, "run", PIPELINE_FILE, "-s", "scale.factor=4")

    assert done.returncode == 0, done.stderr
    assert "2 of 3 steps ran (scale, total), 1 reused (load)" in done.stdout


def test_a_warning_is_printed_under_its_step_as_plain_text(home: Path) -> None:
    pipeline = home.parent / "project" / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("steps:total", "steps:noisy"))

    done = run_prodml(home, "run", PIPELINE_FILE)

    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[2].split()[:2] == ["total", "ran"]
    assert lines[3].startswith("  warning: Step 'total' drew random numbers")
    assert "[" not in lines[3].split("warning:")[0]


@pytest.mark.parametrize(
    "arguments,change,message",
    [
        (["-s", "scale.factr=4"], None, "the config has no 'scale.factr'"),
        (["-s", "scale.factor"], None, "is not KEY=VALUE"),
        (["--force", "sclae"], None, "has no step 'sclae'; its steps: load, scale, total"),
        ([], ("table: scale}", "table: totl}"), "steps[2].inputs.table is 'totl'"),
        ([], ("steps:total", "steps:totals"), "has no function 'totals'"),
        ([], ("steps:total", "steps:broken"), "Step 'total' (steps:broken) failed"),
        ([], ("name: total", "name: scale"), "steps[2].name 'scale' is used by an earlier step"),
        ([], ("{factor: 3}", "{factor: 3, fctor: 1}"), "is given fctor"),
        ([], ("{factor: 3}", "{}"), "needs factor"),
        ([], ("steps:total", "steps:unstorable"), "cannot store"),
        ([], ("steps:total", "broken:total"), "importing 'broken' failed"),
    ],
)
def test_a_mistake_is_one_line_and_exit_code_1(
    home: Path, arguments: list[str], change: tuple[str, str] | None, message: str
) -> None:
    if change is not None:
        pipeline = home.parent / "project" / "pipeline.yaml"
        pipeline.write_text(pipeline.read_text().replace(*change))

    done = run_prodml(home, "run", PIPELINE_FILE, *arguments)

    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert done.stdout == ""


def test_a_module_python_cannot_read_is_one_line_naming_the_file(home: Path) -> None:
    _write(home.parent / "project", "steps.py", STEPS.replace("def total(", "def total(("))

    done = run_prodml(home, "run", PIPELINE_FILE)

    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and len(done.stderr.splitlines()) == 1
    assert "steps.py, line" in done.stderr


def test_a_missing_pipeline_file_is_one_line(home: Path) -> None:
    done = run_prodml(home, "run", "project/nothing.yaml")

    assert done.returncode == 1
    assert "No pipeline file at project/nothing.yaml" in done.stderr


def _stopped_when(home: Path, started: int, *words: str) -> tuple[int, str, list[Any]]:
    """Run ``prodml WORDS`` in the project, send it SIGTERM once ``started`` runs of
    the slow step run, and return its exit code, its errors and the runs of ``demo``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    command = subprocess.Popen(
        [*COMMAND, *words],
        env={**kept, "PRODML_HOME": str(home), "PRODML_USER": "dana"},
        cwd=home.parent / "project",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watcher = Client(home=str(home), user="watcher")
    try:
        deadline = time.monotonic() + 90
        while len(_slow_runs(watcher, "running")) < started:
            assert command.poll() is None, command.communicate()
            assert time.monotonic() < deadline, "the slow steps did not start"
            time.sleep(0.1)
        command.send_signal(signal.SIGTERM)
        _, err = command.communicate(timeout=60)
    finally:
        command.kill()
    runs = prodml.search_runs("experiment = demo", limit=500, client=watcher).runs
    watcher.close()
    return command.returncode, err, runs


def _slow_runs(client: Client, status: str) -> list[Any]:
    runs = prodml.search_runs("experiment = demo", limit=500, client=client).runs
    return [r for r in runs if r.tags.get("prodml.step") == "scale" and r.status.value == status]


def _slow_pipeline(home: Path) -> None:
    slow = CHAIN.replace("steps:scale", "steps:slow")
    (home.parent / "project" / "pipeline.yaml").write_text(slow)


def test_sigterm_mid_step_ends_its_runs_as_failed_and_exits_143(home: Path) -> None:
    """A service manager, ``timeout`` or ``kill`` stops the command: the pipeline's run and
    the running step's run end as failed saying so (none left running), exit code 143."""
    _slow_pipeline(home)

    code, err, runs = _stopped_when(home, 1, "run", "pipeline.yaml")

    assert code == 143, err
    assert "Stopped by SIGTERM." in err and "Traceback" not in err
    assert runs and {r.status.value for r in runs if r.tags.get("prodml.step") != "load"} == {
        "failed"
    }
    assert all("SIGTERM" in (r.error or "") for r in runs if r.status.value == "failed")


def test_sigterm_stops_a_sweeps_worker_processes_and_leaves_no_run_running(home: Path) -> None:
    """SIGTERM reaches the sweep's process only (not its workers, as Ctrl-C at a terminal
    does): the sweep interrupts the trials its workers run, and exits without waiting for
    them to end on their own (a minute each here)."""
    _slow_pipeline(home)
    (home.parent / "project" / "space.yaml").write_text(
        "objective: total\nsampler: grid\nparameters:\n  scale.factor: {choice: [1, 2]}\n"
    )
    started = time.monotonic()

    code, err, runs = _stopped_when(
        home, 2, "sweep", "pipeline.yaml", "--space", "space.yaml", "--trials", "2",
        "--parallel", "2",
    )  # fmt: skip

    assert code == 143, err
    assert time.monotonic() - started < 55  # the trials' steps would sleep 60 s
    assert [r.id for r in runs if r.status.value == "running"] == []
    assert len([r for r in runs if r.tags.get("prodml.step") == "scale"]) == 2
