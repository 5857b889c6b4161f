"""The intervals rollout checks judge by: for one look (``planned`` None) the usual
fixed-sample intervals, for the controller's repeated looks their confidence-sequence
counterparts from ``sequential`` (tightest at ``planned`` observations)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

from prodml.deploy import sequential

QUANTILE = 0.99

Bounds = tuple[float | None, float | None]


def share(
    successes: int, n: int, confidence: float, planned: int | None, centre: float
) -> tuple[float, float]:
    """Bounds on a share from ``successes`` in ``n``; ``centre`` is the limit it is
    judged against, where a sequence is made tightest."""
    if planned is None:
        return wilson(successes, n, confidence)
    return sequential.share_bounds(successes, n, confidence, planned, centre)


def wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval for a share: sound at 0 successes and on few rows."""
    z = sequential.fixed_z(confidence)
    p, shrink = successes / n, 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == n else min(1.0, centre + half)


def widened(
    value: float | None, bounds: Bounds, n: int, confidence: float, planned: int | None
) -> Bounds:
    """A bootstrap interval at ``confidence`` for one look, stretched about ``value`` to
    the normal-mixture sequence's width at ``n`` (unchanged for one look)."""
    if planned is None or value is None or not math.isfinite(value):
        return bounds
    factor = sequential.widening(n, confidence, planned)
    low, high = bounds
    return (
        None if low is None else value - factor * (value - low),
        None if high is None else value + factor * (high - value),
    )


def rank(n: int) -> int:
    """1-based rank of the p99 order statistic (the inverted-CDF quantile)."""
    return max(1, math.ceil(round(QUANTILE * n, 9)))


def p99(ordered: np.ndarray) -> float:
    return float(ordered[rank(len(ordered)) - 1])


def order_bounds(ordered: np.ndarray, confidence: float, planned: int | None) -> Bounds:
    """Distribution-free: the count of observations below the true p99 is Binomial(n, 0.99),
    so x_(l) and x_(u) bracket it with the wanted coverage; too few rows leave u unbounded.
    A sequence takes l and u from the counts the share keeps within at every look."""
    n = len(ordered)
    if planned is None:
        low_rank, high_rank = _binomial_ranks(n, confidence)
    else:
        fewest, most = sequential.count_range(n, QUANTILE, confidence, planned)
        low_rank, high_rank = fewest, most + 1
    low = float(ordered[low_rank - 1]) if low_rank >= 1 else None
    return low, float(ordered[high_rank - 1]) if high_rank <= n else None


@lru_cache(maxsize=4096)  # the ranks depend on the count only; scipy's binom is slow to build
def _binomial_ranks(n: int, confidence: float) -> tuple[int, int]:
    tail = (1 - confidence) / 2
    below = stats.binom(n, QUANTILE)
    k = int(below.ppf(tail))
    low_rank = k + 1 if below.cdf(k) <= tail else k  # largest l with P(B <= l - 1) <= tail
    return low_rank, int(below.ppf(1 - tail)) + 1  # smallest u with P(B >= u) <= tail


def p99_draws(ordered: np.ndarray, resamples: int, generator: np.random.Generator) -> np.ndarray:
    """p99s of ``resamples`` bootstrap samples, drawn exactly without materialising them: the
    k-th smallest of n uniforms is Beta(k, n - k + 1), and maps to ordered[ceil(n * u) - 1]."""
    n = len(ordered)
    k = rank(n)
    index = np.ceil(generator.beta(k, n - k + 1, size=resamples) * n).astype(np.int64) - 1
    return np.asarray(ordered[np.clip(index, 0, n - 1)], dtype=np.float64)
