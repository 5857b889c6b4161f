"""``prodml rollout status`` after the controller ended a rollout: the end state, the
controller's reason beside the reason given at the start, and the step by its label."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_process import run_prodml
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.deploy import controller
from prodml.domain.rollout import Rollout
from prodml.predictions.segments import table_of, write_segment


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _failing_shadow_traffic(client: Client, rollout: Rollout, count: int, failing: int) -> None:
    """Requests as the gateway logs them in shadow: the champion answers, the candidate
    shadows each and fails on ``failing`` of them."""
    rows: list[dict[str, Any]] = []
    for i in range(count):
        fails = i < failing
        rows.append({
            "request_id": f"{rollout.id[:6]}-{i}", "ts": datetime.fromtimestamp(time.time(), UTC),
            "model": "m", "version": rollout.baseline, "assigned": rollout.baseline,
            "variant": "champion", "rollout_id": rollout.id, "step": rollout.step,
            "routing_key": None, "status": "ok", "error": None, "fallback": None,
            "latency_ms": 2.0, "output": 1, "shadow_version": rollout.candidate,
            "shadow_output": None if fails else 1,
            "shadow_error": "ValueError: boom" if fails else None, "inputs": {"a": 0.5, "b": 0.1},
        })  # fmt: skip
    write_segment(Path(client.settings.log_url), "m", table_of(rows, ("output", "shadow_output")))


@pytest.fixture
def rolled_back(tmp_path: Path) -> tuple[Path, str]:
    """A store where the controller rolled back m v2 in shadow; its reason."""
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        generator = np.random.default_rng(3)
        frame = pd.DataFrame({"a": generator.normal(size=60), "b": generator.normal(size=60)})
        labels = (frame["a"] > 0).to_numpy().astype(int)
        with prodml.start_run("fit", client=client) as run:
            first = run.log_model(LogisticRegression().fit(frame, labels), "m", frame.head())
            run.log_model(LogisticRegression(C=5.0).fit(frame, labels), "m", frame.head())
        client.metadata.move_alias("m", "champion", 1, first.id, "first")
        plan = {
            "stages": [
                {"stage": "shadow", "min_duration": 0, "min_requests": 50},
                {"stage": "full", "min_duration": 0, "min_requests": 50},
            ],
            "criteria": {"max_error_rate": 0.05},
        }
        rollout = prodml.start_rollout(
            "m", 2, plan, why="try the stronger regulariser", force=True, client=client
        )
        _failing_shadow_traffic(client, rollout, 200, failing=40)
        (decision,) = controller.tick(client)
        assert decision.action == "rolled_back"
    finally:
        client.close()
    return home, decision.reason


def test_status_says_why_a_rollout_was_rolled_back_beside_why_it_started(
    rolled_back: tuple[Path, str],
) -> None:
    home, reason = rolled_back

    shown = run_prodml(home, "rollout", "status", "m")
    (listed,) = json.loads(run_prodml(home, "rollout", "status", "m", "--json").stdout)

    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "rolled_back at shadow by dana" in text
    assert f"ended: {' '.join(reason.split())}" in text
    assert "started: try the stronger regulariser" in text
    assert reason.startswith("shadow failed: error rate 20%")
    rollout = listed["rollout"]
    assert rollout["state"] == "rolled_back"
    assert rollout["end_reason"] == reason
    assert rollout["ended_by"] == "dana"
    assert rollout["reason"] == "try the stronger regulariser"
    assert listed["step"] == "shadow"
    assert listed["judgement"] is None
