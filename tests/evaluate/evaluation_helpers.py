"""Data, models and metric functions the evaluation tests share. Suites name the
functions here as ``evaluation_helpers:NAME``, and the model class pickles by this
module's name, so the folder must be on ``sys.path`` (the ``helpers_importable``
fixture puts it there)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression

import prodml
from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.domain.evaluation import Estimate, Evaluation

FEATURES = ["usage", "tenure"]
LABEL = "churned"


@cache
def customers(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Churn depends mostly on usage, a little on tenure; region has no effect.
    Shared between tests: copy before changing."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "usage": rng.normal(size=n).round(4),
            "tenure": rng.normal(size=n).round(4),
            "region": rng.choice(["north", "south", "east"], size=n, p=[0.4, 0.4, 0.2]),
        }
    )
    noise = rng.normal(scale=0.5, size=n)
    frame[LABEL] = (frame["usage"] + 0.5 * frame["tenure"] + noise > 0).astype("int64")
    return frame


@cache
def classifier(seed: int = 100) -> LogisticRegression:
    """Fitted on a training sample drawn with ``seed``; the same recipe on another seed
    is a model of equal quality."""
    train = customers(2000, seed)
    return LogisticRegression().fit(train[FEATURES], train[LABEL])


@cache
def classifier_without_usage() -> LogisticRegression:
    """A clearly worse model: the key feature is a constant during fitting."""
    train = customers(2000, 100)
    return LogisticRegression().fit(train[FEATURES].assign(usage=0.0), train[LABEL])


@cache
def flipped_in_east(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Customers whose churn runs the other way in the east: a model fitted on the
    other regions is wrong there and nowhere else."""
    frame = customers(n, seed).copy()
    east = frame["region"] == "east"
    frame.loc[east, LABEL] = 1 - frame.loc[east, LABEL]
    return frame


@cache
def house_prices(n: int = 2000, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "rooms": rng.integers(1, 8, size=n).astype("float64"),
            "area": rng.uniform(30, 250, size=n).round(1),
            "city": rng.choice(["lyon", "lille"], size=n),
        }
    )
    frame["price"] = 20 * frame["rooms"] + 3 * frame["area"] + rng.normal(scale=40, size=n)
    return frame


@cache
def price_model() -> LinearRegression:
    train = house_prices(1000, 3)
    return LinearRegression().fit(train[["rooms", "area"]], train["price"])


def log_models(
    client: Client,
    name: str,
    models: Sequence[Any],
    example: pd.DataFrame | None = None,
) -> list[ModelVersion]:
    """Each model logged as the next version of ``name`` by one run."""
    sample = customers()[FEATURES].head() if example is None else example
    with prodml.start_run("fit", client=client) as run:
        return [run.log_model(model, name, example=sample) for model in models]


def suite(**fields: Any) -> dict[str, Any]:
    """A classification suite on the ``holdout`` set, fast bootstrap, no auto slices."""
    document: dict[str, Any] = {
        "task": "classification",
        "label": LABEL,
        "validation_sets": ["holdout"],
        "bootstrap": {"resamples": 200},
        "auto_slices": {"count": 0},
    }
    document.update(fields)
    return document


def estimate(evaluation: Evaluation, valset: str, slice_name: str, metric: str) -> Estimate:
    """The score of one metric on one slice, which must be there."""
    found = evaluation.estimate(valset, slice_name, metric)
    assert found is not None, f"no {metric} on {slice_name!r} of {valset}"
    return found


class Fussy:
    """A model that refuses customers with a negative balance, as a real service might."""

    def __init__(self, inner: LogisticRegression) -> None:
        self.inner = inner
        self.classes_ = inner.classes_

    def _check(self, rows: pd.DataFrame) -> None:
        if (rows["balance"] < 0).any():
            raise ValueError("balance must not be negative")

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        self._check(rows)
        return np.asarray(self.inner.predict_proba(rows[FEATURES]))

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        self._check(rows)
        return np.asarray(self.inner.predict(rows[FEATURES]))


# Metric functions named by the suites in the tests.


def share_right(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy written by hand: must agree with the built-in."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def churners_caught(y_true: np.ndarray, y_pred: np.ndarray, rows: pd.DataFrame) -> float:
    """Share of the usage of real churners that the model flags."""
    churners = np.asarray(y_true) == 1
    usage = np.abs(rows["usage"].to_numpy())
    flagged = churners & (np.asarray(y_pred) == 1)
    return float(usage[flagged].sum() / usage[churners].sum())


def retention_cost(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per customer: a missed churner costs 5, an offer to a loyal customer costs 1."""
    truth, said = np.asarray(y_true), np.asarray(y_pred)
    return np.where((truth == 1) & (said == 0), 5.0, np.where((truth == 0) & (said == 1), 1.0, 0.0))


def undefined(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float("nan")


def cost_unknown_in_east(y_true: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """A per-row metric with no value for eastern customers."""
    return np.where(rows["region"].to_numpy() == "east", np.nan, 1.0)


def broken(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    raise ZeroDivisionError("no churners in this slice")
