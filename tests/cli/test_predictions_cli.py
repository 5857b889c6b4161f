"""``prodml predictions prune`` and ``compact`` as typed: whole days past the span go,
the rest stays, and a span that would delete today is refused with the next step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prodml.client import Client
from prodml.predictions import query
from prodml.predictions.segments import table_of, write_segment

COMMAND = [sys.executable, "-m", "prodml.cli.main"]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    result = subprocess.run(
        [*COMMAND, *args], env={**kept, "PRODML_HOME": str(home), "COLUMNS": "1000"},
        cwd=home.parent, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _seed(home: Path, days_ago: list[int]) -> Client:
    client = Client(home=str(home), user="tester")
    now = datetime.now(UTC)
    for days in days_ago:
        at = now - timedelta(days=days)
        row = {"request_id": f"r{days}", "row_id": f"row{days}", "ts": at, "model": "m",
               "version": 1, "status": "ok", "output": 1.0}  # fmt: skip
        write_segment(client.log_files, "m", table_of([row], ("output",)), at=at.timestamp())
    return client


def test_prune_deletes_the_days_past_the_span_and_keeps_the_rest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    client = _seed(home, [200, 120, 91, 30, 0])

    pruned = _cli(home, "predictions", "prune", "--older-than", "90d", "--json")

    assert pruned.returncode == 0, pruned.stderr
    report = json.loads(pruned.stdout)
    assert report["days"] == 3 and report["files"] == 3
    left = query.query(client.log_files, "SELECT request_id FROM predictions ORDER BY 1")
    assert left.column("request_id").to_pylist() == ["r0", "r30"]
    events = [e for e in client.metadata.list_events() if e.action == "predictions.pruned"]
    assert len(events) == 1
    client.close()


def test_a_span_shorter_than_a_day_is_refused_and_nothing_is_deleted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    client = _seed(home, [3, 0])

    refused = _cli(home, "predictions", "prune", "--older-than", "2h")
    nonsense = _cli(home, "predictions", "prune", "--older-than", "ninety days")

    assert refused.returncode != 0 and "90d" in refused.stderr + refused.stdout
    assert nonsense.returncode != 0 and "--older-than" in nonsense.stderr + nonsense.stdout
    assert len(query.prediction_files(client.log_files, "m")) == 2
    client.close()
