"""Processes take turns at writing one SQLite file: a writer waits while another
process holds the turn, and says to retry once the busy timeout has passed."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

import prodml
from prodml.client import Client
from prodml.errors import StoreBusyError


def _hold_turn(database: Path) -> int:
    """Take the writers' turn on ``database`` as another process would (a lock on an
    open file of its own)."""
    descriptor = os.open(f"{database}.write.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def test_a_writer_waits_for_the_turn_another_process_holds(tmp_path: Path) -> None:
    client = Client(home=str(tmp_path / ".prodml"), busy_timeout=10, flush_interval=60)
    try:
        run = prodml.start_run("turns", client=client)
        descriptor = _hold_turn(tmp_path / ".prodml" / "prodml.db")
        released = threading.Timer(0.3, os.close, [descriptor])
        released.start()
        started = time.monotonic()
        run.end()
        assert time.monotonic() - started >= 0.25
        assert client.metadata.get_run(run.id).status.value == "finished"
    finally:
        client.close()


def test_a_turn_held_past_the_busy_timeout_says_to_retry(tmp_path: Path) -> None:
    client = Client(home=str(tmp_path / ".prodml"), busy_timeout=0.2, flush_interval=60)
    try:
        run = prodml.start_run("turns", client=client)
        run.log_metric("loss", 0.5)
        descriptor = _hold_turn(tmp_path / ".prodml" / "prodml.db")
        try:
            with pytest.raises(StoreBusyError, match="Retry, or raise PRODML_BUSY_TIMEOUT"):
                run.end()
        finally:
            os.close(descriptor)
        run.end()
        stored = client.metadata.get_run(run.id)
        assert (stored.status.value, stored.metrics) == ("finished", {"loss": 0.5})
    finally:
        client.close()
