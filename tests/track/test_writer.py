"""The background writer: batches reach the store, and a bad param costs no metrics."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import prodml
from prodml.client import Client
from prodml.errors import (
    InvalidInputError,
    ParamConflictError,
    RowsRefusedError,
    StoreBusyError,
)


def test_a_param_set_elsewhere_is_reported_and_the_metrics_of_its_batch_are_kept(
    client: Client,
) -> None:
    run = prodml.start_run("writer", client=client)
    client.metadata.write_batch([(run.id, "seed", "7")], [])  # another process got there first
    run.log_param("lr", 0.1)
    run.log_param("seed", 8)
    for step in range(1000):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    with pytest.raises(ParamConflictError, match="seed"):
        run.flush()
    stored = client.metadata.get_run(run.id)
    assert client.metadata.count_metric_points(run.id) == 1000
    assert stored.params == {"seed": "7", "lr": "0.1"}
    run.end()
    assert client.metadata.get_run(run.id).status.value == "finished"


def test_points_logged_between_flushes_arrive_without_a_flush(client: Client) -> None:
    with prodml.start_run("writer", client=client) as run:
        for step in range(500):
            run.log_metric("loss", float(step))
        deadline = time.monotonic() + 5
        while client.metadata.count_metric_points(run.id) < 500 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.metadata.count_metric_points(run.id) == 500


def test_a_hard_kill_loses_nothing_older_than_the_flush_interval(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    script = (
        "import sys, time, prodml\n"
        "run = prodml.start_run('killed')\n"
        "for step in range(20000): run.log_metric('loss', 0.5, step=step)\n"
        "time.sleep(1.0)\n"  # five flush intervals of 0.2 s
        "print(run.id, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PRODML_HOME": str(home), "PRODML_FLUSH_INTERVAL": "0.2"}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE)
    assert child.stdout is not None
    run_id = child.stdout.readline().decode().strip()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    reader = Client(home=str(home))
    try:
        assert reader.metadata.count_metric_points(run_id) == 20000
        assert reader.metadata.get_run(run_id).status.value == "running"
    finally:
        reader.close()


@pytest.mark.parametrize("name", ["acc\udc80", "a\x00b", "", "x" * 256])
def test_a_name_no_store_can_hold_is_refused_when_logged(client: Client, name: str) -> None:
    with prodml.start_run("names", client=client) as run:
        with pytest.raises(InvalidInputError, match="UTF-8 without NUL"):
            run.log_metric(name, 1.0)
        with pytest.raises(InvalidInputError, match="UTF-8 without NUL"):
            run.log_param(name, 1)
        run.log_metric("fine", 1.0)
    assert client.metadata.get_run(run.id).metrics == {"fine": 1.0}


def test_rows_the_database_refuses_cost_no_other_run_its_points(client: Client) -> None:
    run = prodml.start_run("innocent", client=client)
    for step in range(100):
        run.log_metric("loss", float(step))
    client.writer.add_point(("no-such-run", "loss", 0, 1.0, time.time()))
    with pytest.raises(RowsRefusedError, match="no-such-run"):
        run.flush()
    run.end()
    assert client.metadata.count_metric_points(run.id) == 100
    assert client.metadata.get_run(run.id).status.value == "finished"


def test_an_end_that_failed_can_be_retried(tmp_path: Path) -> None:
    client = Client(home=str(tmp_path / ".prodml"), busy_timeout=0.2, flush_interval=60)
    try:
        run = prodml.start_run("busy", client=client)
        run.log_metric("loss", 0.5)
        blocker = sqlite3.connect(tmp_path / ".prodml" / "prodml.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusyError, match="Retry"):
            run.end()
        blocker.execute("ROLLBACK")
        blocker.close()
        run.end()
        stored = client.metadata.get_run(run.id)
        assert (stored.status.value, stored.metrics) == ("finished", {"loss": 0.5})
    finally:
        client.close()


def test_a_forked_worker_cannot_log_to_its_parents_run_or_store_its_points_twice(
    tmp_path: Path,
) -> None:
    script = (
        "import os, sys, prodml\n"
        "from prodml.errors import RunStateError\n"
        "with prodml.start_run('parent') as run:\n"
        "    for step in range(50): run.log_metric('loss', float(step))\n"
        "    child = os.fork()\n"
        "    if child == 0:\n"
        "        try:\n"
        "            run.log_metric('loss', 99.0)\n"
        "        except RunStateError:\n"
        "            sys.exit(0)\n"  # a normal exit: the exit handlers run in the worker
        "        sys.exit(1)\n"
        "    _, status = os.waitpid(child, 0)\n"
        "    assert os.waitstatus_to_exitcode(status) == 0, 'the worker was not refused'\n"
        "    run.log_metric('loss', 50.0)\n"
        "print(run.id)\n"
    )
    env = {**os.environ, "PRODML_HOME": str(tmp_path / ".prodml")}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    reader = Client(home=str(tmp_path / ".prodml"))
    try:
        assert reader.metadata.count_metric_points(result.stdout.strip()) == 51
    finally:
        reader.close()


def test_numpy_scalars_are_params_like_the_numbers_they_hold(client: Client) -> None:
    import numpy as np

    with prodml.start_run("numpy", client=client) as run:
        run.log_param("lr", 0.5)
        run.log_param("lr", np.float64(0.5))
        run.log_param("depth", np.int64(6))
    assert client.metadata.get_run(run.id).params == {"lr": "0.5", "depth": "6"}


class BusyOnce:
    """The store's ``write_batch``, with another process's write lock held during call
    number ``busy_call`` only: that write fails as busy, like a real lock contention."""

    def __init__(self, client: Client, database: Path, busy_call: int) -> None:
        self.write_batch = client.metadata.write_batch
        self.database, self.busy_call, self.calls = database, busy_call, 0

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls != self.busy_call:
            return self.write_batch(*args, **kwargs)
        blocker = sqlite3.connect(self.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            return self.write_batch(*args, **kwargs)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


@pytest.fixture
def busy_client(tmp_path: Path) -> Iterator[Client]:
    """A SQLite client that gives up on a locked store at once and never flushes by itself."""
    made = Client(home=str(tmp_path / ".prodml"), busy_timeout=0.1, flush_interval=600)
    yield made
    made.close()


@pytest.mark.parametrize("busy_call", [2, 3], ids=["on-the-refused-run", "on-the-other-run"])
def test_a_busy_store_while_one_run_is_refused_costs_the_other_run_no_points(
    busy_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_call: int
) -> None:
    client = busy_client
    run = prodml.start_run("innocent", client=client)
    client.writer.add_point(("no-such-run", "loss", 0, 1.0, time.time()))  # refused: no run
    for step in range(100):
        run.log_metric("loss", float(step))
    # call 1 writes the whole batch and is refused; then each run alone, the refused first
    busy = BusyOnce(client, tmp_path / ".prodml" / "prodml.db", busy_call)
    monkeypatch.setattr(client.metadata, "write_batch", busy)

    with pytest.raises(StoreBusyError):
        run.flush()
    with pytest.raises(RowsRefusedError, match="no-such-run"):
        run.flush()

    run.end()
    assert client.metadata.count_metric_points(run.id) == 100
    assert client.metadata.get_run(run.id).status.value == "finished"
