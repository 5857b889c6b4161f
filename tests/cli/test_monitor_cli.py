"""``prodml monitor``, ``alerts``, ``changes`` and ``incidents``, run as a user runs
them: real processes on a real store and a real prediction log."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from cli_process import run_prodml
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.predictions.segments import write_segment

# A day ago on the hour: the monitor walks every window from here to now, so a fixed
# date would make the test slower each day it is run.
START = (int(time.time() // 3600) - 24) * 3600.0
HOURS = 10  # 9 normal hours, then x arrives in other units


def _window(folder: Path, hour: int, scale: float, rng: np.random.Generator) -> None:
    count = 400
    at = START + hour * 3600
    table = pa.table(
        {
            "request_id": [f"h{hour}-{i}" for i in range(count)],
            "ts": pa.array([datetime.fromtimestamp(at + i * 5, UTC) for i in range(count)]),
            "model": ["m"] * count,
            "version": [1] * count,
            "status": ["ok"] * count,
            "fallback": pa.nulls(count, pa.string()),
            "latency_ms": rng.lognormal(1.0, 0.2, count),
            "output": rng.integers(0, 2, count).astype(float),
            "inputs": pa.StructArray.from_arrays(
                [pa.array(rng.normal(10, 2, count) * scale), pa.array(rng.normal(0, 1, count))],
                names=["x1", "x2"],
            ),
        }
    )
    write_segment(folder, "m", table, at=at)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        rng = np.random.default_rng(0)
        train = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
        with prodml.start_run("cli", client=client) as run:
            model = LogisticRegression().fit(train, train.x1 > 0)
            run.log_model(model, "m", example=train.head())
        for hour in range(HOURS):
            _window(Path(client.settings.log_url), hour, 1000.0 if hour == HOURS - 1 else 1.0, rng)
    finally:
        client.close()
    spec = {"window": "1h", "warmup": 6, "since": datetime.fromtimestamp(START, UTC).isoformat()}
    (tmp_path / "monitor.yaml").write_text(str(spec).replace("'", '"'))
    return home


def _prodml(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_prodml(home, *args, columns=200)


def test_a_unit_change_becomes_one_alert_an_incident_and_a_report(home: Path) -> None:
    assert _prodml(home, "monitor", "set", "m", "monitor.yaml").returncode == 0
    ran = _prodml(home, "monitor", "run", "m")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("NEW ALERT") == 1 and "inputs changed: x1" in ran.stdout
    assert "learning: 0 of 6" in ran.stdout
    again = _prodml(home, "monitor", "run", "m")
    assert "No window was due" in again.stdout
    alert_id = ran.stdout.split("NEW ALERT ")[1][:8]
    shown = _prodml(home, "alerts", "show", alert_id)
    assert "x1" in shown.stdout and "sample rows: prodml predictions query" in shown.stdout
    opened = _prodml(home, "incidents", "open", "--alert", alert_id)
    incident = opened.stdout.split("Incident ")[1][:8]
    report = home.parent / "shift.html"
    written = _prodml(home, "incidents", "report", incident, "--format", "html", "-o", str(report))
    assert written.returncode == 0, written.stderr
    assert "x1" in report.read_text()
    changes = _prodml(home, "changes", "--since", "1h")
    assert "monitor.configured" in changes.stdout and "incident.opened" in changes.stdout


def test_bad_input_gets_a_clear_error_and_no_traceback(home: Path) -> None:
    (home.parent / "bad.yaml").write_text("window: soon\n")
    bad = _prodml(home, "monitor", "set", "m", "bad.yaml")
    assert bad.returncode == 1 and "window" in bad.stderr
    unknown = _prodml(home, "monitor", "set", "nobody", "monitor.yaml")
    assert unknown.returncode == 1 and "prodml models register" in unknown.stderr
    unmonitored = _prodml(home, "monitor", "run", "m")
    assert unmonitored.returncode == 1 and "prodml monitor set m" in unmonitored.stderr
    since = _prodml(home, "changes", "--since", "last tuesday")
    assert since.returncode == 1 and "--since" in since.stderr
    assert _prodml(home, "monitor", "set", "m", "monitor.yaml").returncode == 0
    ran = _prodml(home, "monitor", "run", "m")
    alert_id = ran.stdout.split("NEW ALERT ")[1][:8]
    no_why = _prodml(home, "alerts", "ack", alert_id)
    assert no_why.returncode == 1 and "--why" in no_why.stderr
    missing = _prodml(home, "alerts", "show", "ffffffff")
    assert missing.returncode == 1 and "prodml alerts list" in missing.stderr
    report = _prodml(home, "incidents", "report")
    assert report.returncode == 1
