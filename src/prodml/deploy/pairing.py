"""``prodml rollout compare``: the candidate's and the champion's answers on the same
logged requests, per slice of the suite: how often they agree and, where labels
arrived, the label metric of each and the difference with its interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.client import Client
from prodml.deploy import criteria, evidence
from prodml.domain.rollout import Rollout
from prodml.errors import NotFoundError
from prodml.predictions import query

SEGMENT_LAG = timedelta(hours=1)  # far more than a log's flush interval
PAIRED = """
SELECT CASE WHEN assigned = $candidate THEN output ELSE shadow_output END AS __candidate,
       CASE WHEN assigned = $candidate THEN shadow_output ELSE output END AS __baseline,
       l.label AS __label, unnest(p.inputs)
FROM predictions p LEFT JOIN labels l USING (request_id)
WHERE p.rollout_id = $rollout AND p.status = 'ok' AND p.shadow_version IS NOT NULL
  AND p.shadow_error IS NULL
"""


@dataclass(frozen=True)
class SliceComparison:
    slice: str
    pairs: int
    agreement: float | None
    labels: int
    metric: str | None
    candidate: float | None
    baseline: float | None
    drop: criteria.Check | None


def paired(client: Client, rollout: Rollout) -> pa.Table:
    folder = client.log_files
    # Its rows were logged from its start to its end (the last change of a rollout that
    # ended; a segment is written within seconds of its rows): only those days are read.
    since, until = rollout.created_at, None if rollout.active else rollout.updated_at + SEGMENT_LAG
    if not query.prediction_files(folder, rollout.model, since, until):  # nothing logged
        return pa.table({"__candidate": [], "__baseline": [], "__label": []})
    connection = query.connect(folder, rollout.model, since, until)
    try:
        parameters = {"rollout": rollout.id, "candidate": rollout.candidate}
        return connection.sql(PAIRED, params=parameters).to_arrow_table()
    finally:
        connection.close()


def compare(client: Client, rollout: Rollout, metric: str | None = None) -> list[SliceComparison]:
    table = paired(client, rollout)
    slices = {"all": "TRUE", **_suite_slices(client, rollout.model)}
    from prodml.predict.slices import masks

    chosen = masks(table, slices, "the logged requests") if table.num_rows else {}
    candidate = np.asarray(table.column("__candidate").to_pylist(), dtype=object)
    baseline = np.asarray(table.column("__baseline").to_pylist(), dtype=object)
    labels = np.asarray(table.column("__label").to_pylist(), dtype=object)
    name = metric or ("accuracy" if _categorical(labels) else "mae")
    agreeing = evidence.agree(candidate, baseline)
    judged = np.array(  # both models answered and a label arrived
        [_present(a) and _present(b) and _present(t) for a, b, t in zip(
            candidate, baseline, labels, strict=True)], dtype=bool,
    )  # fmt: skip
    found = []
    for slice_name in slices:
        mask = chosen.get(slice_name, np.zeros(len(candidate), bool))
        found.append(_one(slice_name, mask, agreeing, judged, candidate, baseline, labels, name))
    return found


def _one(
    name: str, mask: np.ndarray, agreeing: np.ndarray, judged: np.ndarray,
    candidate: np.ndarray, baseline: np.ndarray, labels: np.ndarray, metric: str,
) -> SliceComparison:  # fmt: skip
    pairs = int(mask.sum())
    agreement = float(agreeing[mask].mean()) if pairs else None
    labelled = mask & judged
    count = int(labelled.sum())
    if count == 0:
        return SliceComparison(name, pairs, agreement, 0, None, None, None, None)
    truth, cand, base = labels[labelled], candidate[labelled], baseline[labelled]
    check = criteria.metric_difference(truth, cand, base, metric, 0.0, min_labels=1)
    return SliceComparison(
        name, pairs, agreement, count, metric, _score(metric, truth, cand),
        _score(metric, truth, base), check,
    )  # fmt: skip


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _score(metric: str, truth: np.ndarray, answers: np.ndarray) -> float:
    """The metric of ``answers`` on rows both models answered and a label arrived for."""
    if metric in ("accuracy", "error_rate"):
        right = float(np.mean([a == t for a, t in zip(answers, truth, strict=True)]))
        return right if metric == "accuracy" else 1.0 - right
    error = np.asarray(answers, dtype=float) - np.asarray(truth, dtype=float)
    if metric == "mae":
        return float(np.mean(np.abs(error)))
    mse = float(np.mean(error**2))
    return mse if metric == "mse" else float(np.sqrt(mse))


def _categorical(labels: np.ndarray) -> bool:
    present = [v for v in labels if v is not None]
    return not present or len({*present}) <= 20 or isinstance(present[0], str)


def _suite_slices(client: Client, name: str) -> dict[str, str]:
    from prodml.evaluate import evaluations

    try:
        suite = evaluations.load_suite(client, name)
    except NotFoundError:
        return {}
    return {spec.name: spec.where for spec in suite.slices if spec.where}
