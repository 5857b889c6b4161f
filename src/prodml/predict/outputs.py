"""The two models' paired answers, turned into what rollout checks measure: rows missing
on either side dropped, categories or quantile bins for the output distance, and each
row's score or loss for a label metric."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from scipy import special

from prodml.errors import InvalidInputError

BINS = 20  # numeric outputs with more distinct values are binned into this many
METRICS = ("accuracy", "error_rate", "mae", "rmse", "mse")


def finite(values: np.ndarray) -> np.ndarray:
    numbers = np.asarray(values, dtype=np.float64).ravel()
    return numbers[np.isfinite(numbers)]


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values), dtype=bool)
    if values.dtype.kind != "O":
        return np.zeros(len(values), dtype=bool)
    return np.array(
        [v is None or (isinstance(v, float | np.floating) and math.isnan(v)) for v in values],
        dtype=bool,
    )


def paired(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays as 1-D arrays of one length, without rows missing (None/NaN) in any."""
    columns = [np.asarray(a) for a in arrays]
    if any(c.ndim != 1 or len(c) != len(columns[0]) for c in columns):
        shapes = ", ".join(str(c.shape) for c in columns)
        raise InvalidInputError(f"paired outputs must be 1-D and of one length, got {shapes}")
    keep = ~np.logical_or.reduce([_missing(c) for c in columns])
    return [c[keep] for c in columns]


def _is_numeric(values: np.ndarray) -> bool:
    if values.dtype.kind in "iuf":
        return True
    numeric = (isinstance(v, Real) and not isinstance(v, bool | np.bool_) for v in values)
    return values.dtype.kind == "O" and all(numeric)


def _categories(cand: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, int]:
    """Category codes of both (shape (2, n)) and their count: categories for labels and
    for numbers with few distinct values, else bins at the pooled sample's quantiles."""
    if _is_numeric(cand) and _is_numeric(base):
        pooled: np.ndarray = np.concatenate([cand, base]).astype(np.float64)
        if len(np.unique(pooled)) > BINS:
            edges = np.quantile(pooled, np.linspace(0, 1, BINS + 1))[1:-1]
            inner = np.unique(edges)
            codes = np.searchsorted(inner, pooled, side="right")
            return codes.reshape(2, -1), len(inner) + 1
    else:
        pooled = np.concatenate([cand.astype(str), base.astype(str)])
    _, codes = np.unique(pooled, return_inverse=True)
    return codes.ravel().reshape(2, -1), int(codes.max()) + 1


def one_hot(cand: np.ndarray, base: np.ndarray) -> np.ndarray:
    """(n, 2k): each row's candidate category, then its champion category, one-hot."""
    codes, k = _categories(cand, base)
    eye = np.eye(k)
    return np.concatenate([eye[codes[0]], eye[codes[1]]], axis=1)


def jsd(counts: np.ndarray, k: int) -> np.ndarray:
    """Base-2 Jensen-Shannon divergence per row of (m, 2k) candidate|champion counts."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts[:, :k] / counts[:, :k].sum(axis=1, keepdims=True)
        q = counts[:, k:] / counts[:, k:].sum(axis=1, keepdims=True)
        m = (p + q) / 2
        bits = (special.rel_entr(p, m).sum(axis=1) + special.rel_entr(q, m).sum(axis=1)) / 2
    return np.asarray(bits / math.log(2), dtype=np.float64)


def per_row(metric: str, y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Each row's score (accuracy) or loss (the others)."""
    if metric in ("accuracy", "error_rate"):
        hit = np.asarray(y.astype(object) == predicted.astype(object), dtype=np.float64)
        return hit if metric == "accuracy" else 1.0 - hit
    try:
        error = predicted.astype(np.float64) - y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{metric} needs numeric labels and predictions: {exc}") from exc
    return np.abs(error) if metric == "mae" else error**2


def drop(metric: str, totals: np.ndarray) -> np.ndarray:
    """Per row of (m, 3) candidate|champion|count sums: how much worse the candidate is."""
    cand, base = totals[:, 0] / totals[:, 2], totals[:, 1] / totals[:, 2]
    if metric == "rmse":
        cand, base = np.sqrt(cand), np.sqrt(base)
    return np.asarray(base - cand if metric == "accuracy" else cand - base, dtype=np.float64)
