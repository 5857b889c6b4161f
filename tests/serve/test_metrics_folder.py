"""With several workers the metrics live in files of one folder: a worker that is
gone must not be counted by later scrapes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prodml.serve.telemetry import forget_dead_workers

WORKER = """
import os
from prometheus_client import Gauge
Gauge("prodml_log_writer_alive", "x", multiprocess_mode="livemin").set(1)
os._exit(0)  # killed: no exit handler runs
"""


def test_the_live_gauges_of_a_dead_worker_are_dropped(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", WORKER], env=env, check=True)
    assert list(tmp_path.glob("gauge_live*.db"))
    forget_dead_workers(str(tmp_path))
    assert not list(tmp_path.glob("gauge_live*.db"))
