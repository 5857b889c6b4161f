"""The background writer: batches reach the store, and a bad param costs no metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import prodml
from prodml.client import Client
from prodml.errors import ParamConflictError


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
