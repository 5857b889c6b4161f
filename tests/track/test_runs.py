"""Runs: what is stored at start, how they end, durability across processes and
the code state they capture."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.domain.run import RunStatus
from prodml.errors import InvalidInputError, NotFoundError, RunStateError

RunScript = Callable[..., subprocess.CompletedProcess[str]]


def _second_client(client: Client, flush_interval: float = 0.5) -> Client:
    """Another client on the same store, as another process would open it."""
    settings = client.settings
    return Client(
        home=settings.home,
        metadata_url=settings.metadata_url,
        artifact_url=settings.artifact_url,
        user="someone-else",
        flush_interval=flush_interval,
    )


def test_hypothesis_config_and_inputs_are_stored_at_start(client: Client) -> None:
    flights = prodml.log_dataset("flights", pd.DataFrame({"a": [1, 2]}), client=client)
    weather = prodml.log_dataset("weather", pd.DataFrame({"t": [3.5]}), client=client)
    config = {"model": {"depth": 6, "lr": 0.1}, "features": ["a", "b"]}

    run = prodml.start_run(
        "delay",
        config=config,
        hypothesis="deeper trees help",
        inputs=[flights, "weather@1"],
        client=client,
    )
    stored = prodml.get_run(run.id[:8], client=client)

    assert stored.status is RunStatus.RUNNING
    assert stored.ended_at is None and stored.duration_s is None
    assert stored.hypothesis == "deeper trees help"
    assert stored.config == config
    assert stored.author == "tester"
    assert set(stored.inputs) == {flights.id, weather.id}
    assert stored.environment["python"]
    assert "pyarrow" in stored.environment["packages"]
    run.end()


def test_a_finished_run_has_its_end_time(client: Client) -> None:
    with prodml.start_run("delay", client=client) as run:
        run.log_metric("auc", 0.9)

    stored = prodml.get_run(run.id, client=client)
    assert stored.status is RunStatus.FINISHED
    assert stored.error is None
    assert stored.duration_s is not None and stored.duration_s >= 0
    assert stored.metrics == {"auc": 0.9}


def test_an_exception_inside_the_run_marks_it_failed_and_keeps_its_metrics(
    client: Client,
) -> None:
    with pytest.raises(ZeroDivisionError), prodml.start_run("delay", client=client) as run:
        run.log_param("depth", 6)
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1))
        raise ZeroDivisionError("the learning rate schedule hit zero")

    stored = prodml.get_run(run.id, client=client)
    assert stored.status is RunStatus.FAILED
    assert stored.error is not None
    assert "ZeroDivisionError" in stored.error
    assert "learning rate schedule hit zero" in stored.error
    assert stored.params == {"depth": "6"}
    losses = prodml.metric_history(run.id, "loss", client=client)
    assert [p.value for p in losses] == [1.0, 0.5, pytest.approx(1 / 3)]


def test_logging_after_the_end_is_refused(client: Client, tmp_path: Path) -> None:
    run = prodml.start_run("delay", client=client)
    run.end()
    report = tmp_path / "report.txt"
    report.write_text("x")

    attempts = [
        lambda: run.log_metric("auc", 0.5),
        lambda: run.log_metrics({"auc": 0.5}),
        lambda: run.log_param("depth", 3),
        lambda: run.log_artifact(report),
        lambda: run.log_model(_Predictor(), "m"),
    ]
    for attempt in attempts:
        with pytest.raises(RunStateError, match=run.id[:12]) as raised:
            attempt()
        assert "start_run" in str(raised.value)
    run.flush()
    assert client.metadata.count_metric_points(run.id) == 0
    run.end()  # ending twice is harmless
    assert prodml.get_run(run.id, client=client).status is RunStatus.FINISHED


class _Predictor:
    def predict(self, rows: list[int]) -> list[int]:
        return rows


def test_flush_makes_points_readable_from_another_client(client: Client) -> None:
    writer = _second_client(client, flush_interval=60)  # only flush() stores anything
    reader = _second_client(client)
    try:
        run = prodml.start_run("delay", client=writer)
        for step in range(100):
            run.log_metric("loss", 1.0 / (step + 1))
        run.flush()

        assert len(prodml.metric_history(run.id, "loss", client=reader)) == 100
        seen = prodml.get_run(run.id, client=reader)
        assert seen.metrics["loss"] == pytest.approx(0.01)
        assert seen.status is RunStatus.RUNNING
        run.log_param("depth", 6)
        run.flush()
        assert prodml.get_run(run.id, client=reader).params == {"depth": "6"}
        run.end()
        assert prodml.get_run(run.id, client=reader).status is RunStatus.FINISHED
    finally:
        writer.close()
        reader.close()


def test_a_process_that_exits_without_ending_its_run_loses_nothing(
    client: Client, run_script: RunScript
) -> None:
    result = run_script(
        client,
        "import prodml\n"
        "run = prodml.start_run('exit', hypothesis='nothing is lost at exit')\n"
        "run.log_param('seed', 7)\n"
        "for step in range(500):\n"
        "    run.log_metric('loss', 1.0 / (step + 1))\n"
        "print(run.id)\n",
    )

    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    stored = prodml.get_run(run_id, client=client)
    assert stored.status is RunStatus.FINISHED
    assert stored.params == {"seed": "7"}
    assert len(prodml.metric_history(run_id, "loss", client=client)) == 500
    assert stored.metrics["loss"] == pytest.approx(1 / 500)


def test_a_process_that_dies_of_an_exception_marks_its_open_run_failed(
    sqlite_client: Client, run_script: RunScript
) -> None:
    result = run_script(
        sqlite_client,
        "import prodml\n"
        "run = prodml.start_run('crash')\n"
        "run.log_metric('loss', 0.5)\n"
        "print(run.id, flush=True)\n"
        "raise MemoryError('the batch did not fit')\n",
    )

    assert result.returncode == 1 and "MemoryError" in result.stderr
    run = prodml.get_run(result.stdout.strip(), client=sqlite_client)
    assert run.status is RunStatus.FAILED
    assert run.error == "MemoryError: the batch did not fit"
    assert run.metrics == {"loss": 0.5}


def test_a_run_whose_with_block_an_exit_cut_short_is_failed_not_finished(
    sqlite_client: Client, run_script: RunScript
) -> None:
    """A worker's main thread leaves (a stopped Ray worker raises SystemExit there) while
    a run's with block still runs in another thread: the run did not finish."""
    result = run_script(
        sqlite_client,
        "import sys, threading, time, prodml\n"
        "entered = threading.Event()\n"
        "def trial():\n"
        "    with prodml.start_run('trial') as run:\n"
        "        print(run.id, flush=True)\n"
        "        entered.set()\n"
        "        time.sleep(60)\n"
        "threading.Thread(target=trial, daemon=True).start()\n"
        "entered.wait(30)\n"
        "sys.exit(1)\n",
    )

    assert result.returncode == 1, result.stderr
    run = prodml.get_run(result.stdout.strip(), client=sqlite_client)
    assert run.status is RunStatus.FAILED
    assert "with block was still running" in (run.error or "")


def test_a_hard_exit_keeps_everything_logged_before_the_flush(
    client: Client, run_script: RunScript
) -> None:
    result = run_script(
        client,
        "import os, prodml\n"
        "run = prodml.start_run('crash')\n"
        "for step in range(5):\n"
        "    run.log_metric('loss', float(step))\n"
        "run.flush()\n"
        "print(run.id, flush=True)\n"
        "for step in range(5, 10):\n"
        "    run.log_metric('loss', float(step))\n"
        "os._exit(3)\n",
    )

    assert result.returncode == 3, result.stderr
    run_id = result.stdout.strip()
    values = [p.value for p in prodml.metric_history(run_id, "loss", client=client)]
    assert values[:5] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert prodml.get_run(run_id, client=client).status is RunStatus.RUNNING


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def dirty_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("depth = 6\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "train.py").write_text("depth = 8\n")
    (repo / "notes.md").write_text("untracked\n")
    return repo


def test_the_git_commit_and_uncommitted_changes_are_captured(
    sqlite_client: Client, run_script: RunScript, dirty_repo: Path
) -> None:
    client = sqlite_client
    result = run_script(
        client,
        "import prodml\nwith prodml.start_run('git') as run:\n    print(run.id)\n",
        cwd=dirty_repo,
    )

    assert result.returncode == 0, result.stderr
    run = prodml.get_run(result.stdout.strip(), client=client)
    assert run.git_commit == _git(dirty_repo, "rev-parse", "HEAD")
    git = run.environment["git"]
    assert git["dirty"] is True
    assert git["untracked"] == ["notes.md"]
    assert Path(git["root"]).resolve() == dirty_repo.resolve()
    artifacts = {a.name: a for a in client.metadata.list_artifacts("run", run.id)}
    diff = client.read_blob(artifacts["code.diff"].digest).decode()
    assert "-depth = 6" in diff and "+depth = 8" in diff
    code = prodml.compare_runs(run.id, run.id, client=client).code
    assert code.left_commit == run.git_commit
    assert code.left_diff.startswith("+1 -1 in 1 file(s)")


def test_outside_git_there_is_no_commit_and_no_diff(
    sqlite_client: Client, run_script: RunScript, tmp_path: Path
) -> None:
    client = sqlite_client
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run_script(
        client,
        "import prodml\nwith prodml.start_run('nogit') as run:\n    print(run.id)\n",
        cwd=plain,
    )

    assert result.returncode == 0, result.stderr
    run = prodml.get_run(result.stdout.strip(), client=client)
    assert run.git_commit is None
    assert client.metadata.list_artifacts("run", run.id) == []


def test_bad_start_arguments_are_refused_before_anything_is_stored(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="JSON"):
        prodml.start_run("delay", config={"fn": object()}, client=client)
    with pytest.raises(InvalidInputError, match="mapping"):
        prodml.start_run("delay", config=[1, 2], client=client)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="hypothesis"):
        prodml.start_run("delay", hypothesis=42, client=client)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="Experiment name"):
        prodml.start_run("", client=client)
    with pytest.raises(NotFoundError, match="flights@3"):
        prodml.start_run("delay", inputs=["flights@3"], client=client)
    with pytest.raises(InvalidInputError, match="not a dataset version"):
        prodml.start_run("delay", inputs=[42], client=client)  # type: ignore[list-item]

    assert prodml.list_runs(client=client) == []


def test_runs_are_listed_newest_first_per_experiment(client: Client) -> None:
    ids = []
    for experiment in ("a", "b", "a"):
        with prodml.start_run(experiment, client=client) as run:
            ids.append(run.id)

    assert [r.id for r in prodml.list_runs(client=client)] == ids[::-1]
    assert [r.id for r in prodml.list_runs("a", client=client)] == [ids[2], ids[0]]
    assert [r.id for r in prodml.list_runs(limit=1, client=client)] == [ids[2]]


def test_unknown_run_ids_say_how_to_list_runs(client: Client) -> None:
    with pytest.raises(NotFoundError, match="prodml runs list") as raised:
        prodml.get_run("deadbeef", client=client)
    assert "deadbeef" in str(raised.value)
    with pytest.raises(InvalidInputError, match="too short"):
        prodml.get_run("ab", client=client)


def test_run_metrics_keep_nan_and_infinity(client: Client) -> None:
    with prodml.start_run("delay", client=client) as run:
        run.log_metric("nan", math.nan)
        run.log_metric("inf", math.inf)
        run.log_metric("neg", -math.inf)

    metrics = prodml.get_run(run.id, client=client).metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf and metrics["neg"] == -math.inf
