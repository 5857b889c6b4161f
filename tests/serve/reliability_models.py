"""Models for the gateway's reliability tests, in a module of their own so the
``prodml serve`` subprocess can unpickle them (the folder goes on its PYTHONPATH).

Every input row has the numeric features ``x0``, ``x1`` and ``x2``. Request ``i`` of
:func:`record` has ``x0`` in the band ``[0.8, 1.0)`` when ``i % 10`` is 8 or 9, so
exactly one request in five hits the band :class:`FailsOnHighX0` raises on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FEATURES = ("x0", "x1", "x2")
FAIL_FROM = 0.8  # FailsOnHighX0 raises when any row has x0 >= this


def training_frame(rows: int = 400, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.uniform(0.0, 1.0, rows) for name in FEATURES})
    labels = (frame["x0"] + 0.5 * frame["x1"] - 0.3 * frame["x2"] > 0.6).astype(int).to_numpy()
    return frame, labels


def fitted(seed: int = 7, c: float = 1.0) -> Any:
    """A scikit-learn LogisticRegression fitted on a DataFrame (it knows feature names)."""
    from sklearn.linear_model import LogisticRegression

    frame, labels = training_frame(seed=seed)
    return LogisticRegression(C=c, random_state=seed).fit(frame, labels)


def record(i: int) -> dict[str, float]:
    """The i-th request's record: deterministic, 20% of them in the failing x0 band."""
    band = i % 10
    x0 = band / 10.0 + ((i * 7919) % 97) / 970.0  # in [band/10, band/10 + 0.1)
    return {"x0": x0, "x1": ((i * 31) % 101) / 100.0, "x2": ((i * 17) % 89) / 88.0}


def fails(row: dict[str, float]) -> bool:
    return row["x0"] >= FAIL_FROM


class FailsOnHighX0:
    """A candidate that raises for the whole call whenever any row has x0 in the
    failing band, like a model choking on an unseen range; else it answers like the
    classifier it wraps."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        high = np.asarray(frame["x0"], dtype=float) >= FAIL_FROM
        if high.any():
            raise ValueError(f"x0 out of the trained range on {int(high.sum())} row(s)")
        return np.asarray(self.inner.predict(frame))
