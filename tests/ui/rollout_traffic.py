"""A rollout the controller can advance: model ``m`` with v1 champion and v2 taken
through shadow, canary 50% and full (50 requests a step), and clean traffic for
its current step written to the prediction log as the gateway's recorder writes it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.domain.rollout import Rollout
from prodml.predictions.segments import table_of, write_segment

MODEL = "m"
STEPS = 50  # requests each step needs
PLAN = {
    "stages": [
        {"stage": "shadow", "min_duration": 0, "min_requests": STEPS},
        {"stage": "canary", "steps": [50], "min_duration": 0, "min_requests": STEPS},
        {"stage": "full", "min_duration": 0, "min_requests": STEPS},
    ],
    "criteria": {"max_error_rate": 0.1},
}


def start(client: Client) -> Rollout:
    """Two fitted versions of ``m``, v1 champion, and a rollout of v2."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    labels = (frame["a"] > 0).astype(int)
    with prodml.start_run("fit", client=client) as run:
        run.log_model(LogisticRegression().fit(frame, labels), MODEL, frame.head())
        run.log_model(LogisticRegression(C=5.0).fit(frame, labels), MODEL, frame.head())
    prodml.promote(MODEL, 1, force=True, why="first release", client=client)
    return prodml.start_rollout(MODEL, 2, plan=PLAN, why="try v2", client=client)


def traffic(client: Client, rollout_id: str, count: int = STEPS) -> None:
    """``count`` clean requests of the rollout's current step."""
    rollout = prodml.get_rollout(rollout_id, client=client).rollout
    share = rollout.current.share
    rows: list[dict[str, Any]] = []
    for i in range(count):
        answers = i < round(count * share)
        rows.append(
            {
                "request_id": f"{rollout.id[:6]}-{rollout.step}-{time.time_ns()}-{i}",
                "ts": datetime.fromtimestamp(time.time(), UTC),
                "model": MODEL,
                "version": rollout.candidate if answers else rollout.baseline,
                "assigned": rollout.candidate if answers else rollout.baseline,
                "variant": "candidate" if answers else "champion",
                "rollout_id": rollout.id,
                "step": rollout.step,
                "routing_key": None,
                "status": "ok",
                "error": None,
                "fallback": None,
                "latency_ms": 2.0,
                "output": 1,
                "shadow_version": rollout.baseline if answers else rollout.candidate,
                "shadow_output": 1,
                "shadow_error": None,
                "inputs": {"a": 0.5, "b": -0.5},
            }
        )
    write_segment(Path(client.settings.log_url), MODEL, table_of(rows, ("output", "shadow_output")))
