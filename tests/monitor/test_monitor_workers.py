"""``prodml monitor serve`` on several hosts: each worker beats a heartbeat, exactly
one holds the monitor worker's lease and runs the monitors, and when it is killed
with SIGKILL another takes the lease within a term and a quarter."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import prodml
from prodml.client import Client
from prodml.domain.hosts import MONITOR


def _until(check: Callable[[], Any], seconds: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - started


@contextlib.contextmanager
def _workers(home: Path, names: list[str]) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    started = {}
    try:
        for name in names:
            command = [sys.executable, "-m", "prodml.cli.main", "monitor", "serve", "--every", "1"]
            started[name] = subprocess.Popen(
                command,
                env={**env, "PRODML_HOME": str(home), "PRODML_HOST": name},
                cwd=home.parent,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        yield started
    finally:
        for process in started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


def test_one_worker_of_two_runs_the_monitors_and_the_other_takes_over(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    client = Client(home=str(home), user="tester")
    try:
        with _workers(home, ["w1", "w2"]) as workers:
            _until(lambda: len(client.metadata.hosts()) == 2, 60)
            _until(lambda: client.metadata.lease(MONITOR) is not None, 10)
            lease = client.metadata.lease(MONITOR)
            assert lease is not None
            seen = {h.host: h for h in client.metadata.hosts()}
            leader = lease.holder.split("/")[0]
            other = "w2" if leader == "w1" else "w1"
            os.killpg(workers[leader].pid, signal.SIGKILL)
            took = _until(
                lambda: (
                    (held := client.metadata.lease(MONITOR)) is not None
                    and held.holder.startswith(f"{other}/")
                ),
                10,
            )
            after = client.metadata.lease(MONITOR)
    finally:
        client.close()

    assert {h.role for h in seen.values()} == {"worker"}
    assert seen[leader].leases == (MONITOR,) and seen[other].leases == ()
    assert took < 1.0 * 1.25 + 1.0  # a term of 1 s (--every 1) and a quarter, plus a poll
    assert after is not None and after.token == lease.token + 1


def test_a_lone_worker_runs_the_monitors_on_its_schedule(sqlite_client: Client) -> None:
    stop = threading.Event()
    runs: list[int] = []

    def report(outcomes: list[Any]) -> None:
        runs.append(len(outcomes))
        if len(runs) == 2:
            stop.set()

    worker = threading.Thread(
        target=prodml.serve_monitors,
        kwargs={"every": 0.2, "stop": stop, "report": report, "client": sqlite_client},
    )
    worker.start()
    worker.join(30)

    assert runs == [0, 0]  # no monitor declared: nothing due, but it ran twice
    assert sqlite_client.metadata.lease(MONITOR) is not None
    assert sqlite_client.metadata.hosts() == []  # it left when it stopped


def test_the_leading_worker_compacts_the_log(sqlite_client: Client) -> None:
    from datetime import UTC, datetime, timedelta

    from prodml.predictions import query
    from prodml.predictions.segments import table_of, write_segment

    noon = datetime(2025, 3, 1, 12, tzinfo=UTC)
    log = sqlite_client.log_files
    for n in range(3):
        row = {"request_id": f"r{n}", "row_id": f"row{n}", "ts": noon + timedelta(seconds=n),
               "model": "m", "version": 1, "status": "ok", "output": 1.0}  # fmt: skip
        written = write_segment(log, "m", table_of([row], ("output",)), at=noon.timestamp() + n)
        os.utime(written, (time.time() - 3600, time.time() - 3600))  # written an hour ago
    stop = threading.Event()
    turns: list[int] = []

    def report(outcomes: list[Any]) -> None:
        turns.append(len(outcomes))
        if len(turns) == 2:
            stop.set()

    worker = threading.Thread(
        target=prodml.serve_monitors,
        kwargs={"every": 0.2, "stop": stop, "report": report, "client": sqlite_client,
                "compact_every": 0.0},
    )  # fmt: skip
    worker.start()
    worker.join(30)

    files = query.prediction_files(log, "m")
    assert len(files) == 1 and query.is_compacted(files[0].rsplit("/", 1)[1])
    assert query.query(log, "SELECT count(*) AS n FROM predictions").to_pylist() == [{"n": 3}]
    events = sqlite_client.metadata.list_events()
    assert [e for e in events if e.action == "predictions.compacted"]
