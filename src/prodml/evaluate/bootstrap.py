"""Bucketed bootstrap: rows go to random buckets once, each resample draws buckets
with replacement, and a metric on a resample is its per-bucket sums weighted by the
draw. Candidate and baseline share the draws, so their difference is paired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from prodml.domain.evaluation import Estimate

BUCKETS = 500
NAN = float("nan")


@dataclass(frozen=True)
class Resampler:
    buckets: np.ndarray  # the bucket of each row
    size: int
    weights: np.ndarray  # (resamples, size): how often each bucket is drawn
    confidence: float

    @classmethod
    def make(cls, rows: int, resamples: int, confidence: float, seed: int) -> Resampler:
        generator = np.random.default_rng(seed)
        size = max(1, min(BUCKETS, rows))
        buckets = generator.integers(0, size, rows)
        draws = generator.multinomial(size, np.full(size, 1.0 / size), size=resamples)
        return cls(buckets, size, draws.astype(np.float64), confidence)

    @property
    def resamples(self) -> int:
        return int(self.weights.shape[0])

    def totals(self, columns: np.ndarray, index: np.ndarray) -> np.ndarray:
        """(size, k) sums of ``columns`` over the rows ``index``, per bucket."""
        whole = len(index) == len(self.buckets)  # the "all" slice: no gather needed
        buckets = self.buckets if whole else self.buckets[index]
        chosen = (columns if whole else columns[index]).T.copy()  # each column contiguous
        return np.column_stack(
            [np.bincount(buckets, weights=row, minlength=self.size) for row in chosen]
        )

    def replicates(
        self, totals: np.ndarray, value: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        if not self.resamples:
            return np.empty(0)
        return np.asarray(value(self.weights @ totals), dtype=np.float64)

    def row_weights(self, resample: int, index: np.ndarray) -> np.ndarray:
        return np.asarray(self.weights[resample, self.buckets[index]], dtype=np.float64)

    def estimate(self, point: float, replicates: np.ndarray, rows: int) -> Estimate:
        low, high = self.interval(replicates)
        return Estimate(float(point), low, high, rows)

    def interval(self, replicates: np.ndarray) -> tuple[float, float]:
        return interval(replicates, self.confidence)


def interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval; undefined when most resamples are undefined."""
    finite = replicates[np.isfinite(replicates)]
    if not len(finite) or len(finite) < 0.5 * len(replicates):
        return NAN, NAN
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)
