"""What the prediction log says about one rollout step: the candidate's errors and
latencies, both models' answers on the same requests, and labels where they arrived."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from prodml.domain.rollout import Rollout
from prodml.predictions import query
from prodml.stores.log_files import LogFiles

_PAIRS = """
SELECT CASE WHEN assigned = $candidate THEN output ELSE shadow_output END AS candidate,
       CASE WHEN assigned = $candidate THEN shadow_output ELSE output END AS baseline,
       label
FROM ({source}) AS steps
WHERE status = 'ok' AND shadow_version IS NOT NULL AND shadow_error IS NULL
"""


@dataclass(frozen=True)
class Evidence:
    requests: int
    candidate_calls: int  # requests the candidate answered or shadowed
    candidate_errors: int
    candidate_ms: np.ndarray  # latency of requests the candidate answered
    baseline_ms: np.ndarray
    candidate: np.ndarray  # paired answers of the two models on the same requests
    baseline: np.ndarray
    labels: np.ndarray  # label per pair (None where none arrived)

    @property
    def agreeing(self) -> np.ndarray:
        """Per pair, whether both models gave the same answer."""
        return agree(self.candidate, self.baseline)

    @property
    def labelled(self) -> np.ndarray:
        return np.array([label is not None for label in self.labels], dtype=bool)

    def figures(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "candidate_calls": self.candidate_calls,
            "candidate_errors": self.candidate_errors,
            "pairs": len(self.candidate),
            "labels": int(self.labelled.sum()),
        }


def agree(candidate: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Pairwise equality of two models' answers (numbers equal within rounding)."""
    return np.array([_same(a, b) for a, b in zip(candidate, baseline, strict=True)], dtype=bool)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return bool(a == b)


def gather(folder: LogFiles | Path, rollout: Rollout, since: datetime | None = None) -> Evidence:
    """The rows of the rollout's current step logged since it began."""
    start = since or rollout.step_started_at
    # only segments holding rows from the step's start on: a step's look stays cheap
    # however much the model logged earlier the same day
    after = (start.timestamp(), math.inf)
    connection = query.connect(folder, rollout.model, since=start, between=after)
    try:
        source = (
            "SELECT p.*, l.label FROM predictions p LEFT JOIN labels l USING (request_id) "
            "WHERE p.rollout_id = $rollout AND p.step = $step AND p.ts >= $start"
        )
        parameters = {"rollout": rollout.id, "step": rollout.step, "start": start}
        counts = connection.execute(
            f"""SELECT count(*),
                count(*) FILTER (WHERE assigned = $candidate OR shadow_version = $candidate),
                count(*) FILTER (WHERE (assigned = $candidate AND status <> 'ok')
                                    OR (shadow_version = $candidate AND shadow_error IS NOT NULL)),
                list(latency_ms) FILTER (WHERE assigned = $candidate AND status = 'ok'),
                list(latency_ms) FILTER (WHERE assigned <> $candidate AND status = 'ok')
            FROM ({source}) AS steps""",
            {**parameters, "candidate": rollout.candidate},
        ).fetchone()
        pairs = connection.execute(
            _PAIRS.format(source=source), {**parameters, "candidate": rollout.candidate}
        ).fetchall()
    finally:
        connection.close()
    assert counts is not None
    return Evidence(
        requests=int(counts[0]),
        candidate_calls=int(counts[1]),
        candidate_errors=int(counts[2]),
        candidate_ms=np.asarray(counts[3] or [], dtype=np.float64),
        baseline_ms=np.asarray(counts[4] or [], dtype=np.float64),
        candidate=np.asarray([p[0] for p in pairs], dtype=object),
        baseline=np.asarray([p[1] for p in pairs], dtype=object),
        labels=np.asarray([p[2] for p in pairs], dtype=object),
    )
