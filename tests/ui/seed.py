"""A small but complete store for the dashboard's tests, built with the real SDK.

``seed(client)`` writes, in a few seconds, every kind of object a page shows: a
dataset with two versions and a validation; three runs with configs and metric
curves, each logging a version of model ``fraud``; a suite with slices and a gate
verdict; champion (one forced move) and challenger aliases; a canary rollout of the
challenger; a monitor whose hourly windows over the last 18 hours saw two upstream
changes (two alerts: one taken on by an incident, one still open), labels with
their lag, and an SLO."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.predictions.segments import table_of, write_segment

MODEL = "fraud"
DATASET = "transactions"
HOLDOUT = "fraud-holdout"
HOUR = 3600.0
HOURS = 18  # of traffic, ending at the last whole hour
ROWS = 60  # requests per hourly window
B_BROKEN = (8, 9)  # hours where input "b" arrives x1000: the incident's alert
A_BROKEN = (15, 16)  # hours where input "a" arrives x1000 and answers slow: the open alert
FEATURES = ["a", "b"]
REGIONS = ("north", "south", "east")
SUITE = {
    "task": "classification",
    "label": "label",
    "validation_sets": [HOLDOUT],
    "metrics": ["auc", "accuracy"],
    "slices": [{"name": "large", "where": "a > 1"}, {"by": "region"}],
    "bootstrap": {"resamples": 200},
    "auto_slices": {"count": 0},
    "gate": {
        "rules": [
            {"metric": "accuracy", "at_least": 0.6},
            {"metric": "auc", "max_regression": 0.01},
        ]
    },
}
MONITOR = {
    "window": "1h",
    "warmup": 6,
    "season": None,
    "labels": {"wait": "1h", "slice_by": ["region"], "min_labels": 20},
    "slos": [
        {"name": "p99", "metric": "p99_ms", "max": 20},
        {"name": "accuracy-6h", "metric": "accuracy", "min": 0.8, "over": "6h"},
    ],
}
CANARY = {
    "stages": [
        {"stage": "canary", "steps": [10, 50], "min_duration": "1h", "min_requests": 500},
        {"stage": "full", "min_duration": "1h", "min_requests": 500},
    ]
}


@dataclass(frozen=True)
class Seeded:
    """What the seed wrote, for tests to look up."""

    model: str
    dataset: str
    run_ids: tuple[str, ...]
    rollout_id: str
    open_alert: str  # raised by the "a" change, left open
    incident_alert: str  # raised by the "b" change, taken on by the incident
    incident: str
    first_hour: float  # epoch of the first window


@dataclass(frozen=True)
class SeededStore:
    """A seeded store as the tests' fixtures share it."""

    home: Path  # the store's PRODML_HOME: copy it before changing anything
    client: Client
    seeded: Seeded


def seed(client: Client) -> Seeded:
    """Fill ``client``'s (empty) store; takes a few seconds."""
    versions = _datasets(client)
    run_ids = _runs(client, versions)
    rollout_id = _registry(client)
    first_hour = (math.floor(time.time() / HOUR) - HOURS) * HOUR
    _traffic(client, first_hour)
    prodml.set_monitor(MODEL, MONITOR, client=client)
    prodml.run_monitors(MODEL, notify=False, client=client)
    alerts = {
        round((a.window_start.timestamp() - first_hour) / HOUR): a.id
        for a in prodml.list_alerts(MODEL, client=client)
    }
    incident_alert, open_alert = alerts[B_BROKEN[0]], alerts[A_BROKEN[0]]
    incident = prodml.open_incident([incident_alert], title="b arrives in grams", client=client)
    return Seeded(
        model=MODEL,
        dataset=DATASET,
        run_ids=run_ids,
        rollout_id=rollout_id,
        open_alert=open_alert,
        incident_alert=incident_alert,
        incident=incident.id,
        first_hour=first_hour,
    )


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Transactions: fraud depends on a and b; region has no effect."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "id": np.arange(seed * 100_000, seed * 100_000 + n),
            "a": rng.normal(shift, 1.0, n).round(4),
            "b": rng.normal(size=n).round(4),
            "region": rng.choice(REGIONS, size=n),
        }
    )
    noise = rng.normal(scale=0.4, size=n)
    rows["label"] = (rows["a"] + 0.5 * rows["b"] + noise > 0).astype("int64")
    return rows


def _datasets(client: Client) -> list[prodml.DatasetVersion]:
    first = prodml.log_dataset(DATASET, frame(400, 1), key="id", client=client)
    second = prodml.log_dataset(DATASET, frame(500, 2, shift=0.2), key="id", client=client)
    prodml.validate(f"{DATASET}@2", f"{DATASET}@1", client=client)
    holdout = frame(600, 3).drop(columns=["id"])
    prodml.add_to_valset(HOLDOUT, holdout, source="March transactions", client=client)
    return [first, second]


def _runs(client: Client, versions: list[prodml.DatasetVersion]) -> tuple[str, ...]:
    train = frame(500, 2, shift=0.2)
    ids = []
    for number, (c, features) in enumerate(((1.0, "a,b"), (1.0, "a"), (10.0, "a,b"))):
        with prodml.start_run(
            MODEL,
            config={"C": c, "solver": "lbfgs", "features": features},
            hypothesis=f"With C={c} on {features}, accuracy stays above 0.8.",
            inputs=[versions[-1]],
            client=client,
        ) as run:
            for step in range(20):
                run.log_metric("loss", 0.7 * math.exp(-step / (4 + number)) + 0.2, step=step)
            seen = train[FEATURES].assign(b=train["b"] if "b" in features else 0.0)
            model = LogisticRegression(C=c).fit(seen, train["label"])
            run.log_metric("accuracy", float(model.score(seen, train["label"])))
            run.log_model(model, MODEL, example=train[FEATURES].head())
            ids.append(run.id)
    return tuple(ids)


def _registry(client: Client) -> str:
    prodml.register_suite(MODEL, SUITE, client=client)
    prodml.promote(MODEL, 1, why="first release", client=client)
    prodml.promote(MODEL, 2, force=True, why="hotfix: b is unreliable upstream", client=client)
    prodml.set_alias(f"{MODEL}@3", "challenger", reason="weakest regularisation", client=client)
    prodml.compare_models(MODEL, "champion", "challenger", client=client)
    rollout = prodml.start_rollout(
        MODEL, 3, plan=CANARY, why="challenger to 10% of traffic", client=client
    )
    return rollout.id


def _traffic(client: Client, first_hour: float) -> None:
    """One log segment per hour of champion v2's answers, and their labels."""
    rng = np.random.default_rng(11)
    ids: list[str] = []
    labels: list[int] = []
    labelled_at: list[datetime] = []
    for hour in range(HOURS):
        rows = []
        for i in range(ROWS):
            request = f"h{hour:02d}-{i:02d}"
            a, b = float(rng.normal()), float(rng.normal())
            answer = int(a + 0.5 * b > 0)
            a *= 1000 if hour in A_BROKEN else 1
            b *= 1000 if hour in B_BROKEN else 1
            at = datetime.fromtimestamp(first_hour + hour * HOUR + i * 55, UTC)
            rows.append(_row(request, at, a, b, str(rng.choice(REGIONS)), answer, hour))
            ids.append(request)
            wrong = hour in A_BROKEN and i % 3 == 0
            labels.append(1 - answer if wrong or i % 10 == 0 else answer)
            lag = 1800 + (i % 4) * 1200  # labels arrive 30 min to 1.5 h later
            labelled_at.append(datetime.fromtimestamp(at.timestamp() + lag, UTC))
        table = table_of(rows, ("output", "shadow_output"))
        write_segment(Path(client.settings.log_url), MODEL, table, at=first_hour + hour * HOUR)
    known = pa.table({"request_id": ids, "label": labels, "at": labelled_at})
    prodml.ingest_labels(known, at="at", client=client)


def _row(
    request: str, at: datetime, a: float, b: float, region: str, answer: int, hour: int
) -> dict[str, object]:
    slow = hour in A_BROKEN
    return {
        "request_id": request,
        "ts": at,
        "model": MODEL,
        "version": 2,
        "assigned": 2,
        "variant": "champion",
        "rollout_id": None,
        "step": None,
        "routing_key": None,
        "status": "error" if slow and request.endswith("7") else "ok",
        "error": "timeout" if slow and request.endswith("7") else None,
        "fallback": None,
        "latency_ms": 40.0 + (hour % 3) if slow else 4.0 + (hour % 3),
        "output": answer,
        "shadow_version": None,
        "shadow_output": None,
        "shadow_error": None,
        "inputs": {"a": a, "b": b, "region": region},
    }
