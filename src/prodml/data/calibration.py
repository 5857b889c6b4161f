"""Bounds calibrated on history: how far a statistic may move before it is unusual.

For each statistic, the values it took on past batches are its history. A new
batch is unusual when its value lies outside the prediction interval of that
history (Student's t with n - 1 degrees of freedom, so a short history widens the
bounds on its own), at a family-wise false-alarm rate ``ALPHA`` shared by every
test of the validation (Bonferroni), so a table with 50 columns does not alarm
more often than one with 5. Statistics are first put on a scale where their
batch-to-batch variation is roughly normal (shares by arcsine-square-root,
counts and spreads by log). The standard deviation is never taken below the
statistic's own sampling noise, and a change smaller than the statistic's
minimum effect is never an alarm: a p-value that goes to zero on a large sample
is not a reason to wake anyone. Nor is a value that at least ``PRECEDENTS`` past
batches already reached: statistics whose history is a mixture (the first day of
each month brings a new month) are judged by what history has shown, not only by
its mean and spread."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

ALPHA = 0.01  # family-wise: the share of clean batches allowed to alarm
SHORT_HISTORY = 5  # fewer past batches than this: the result says the bounds are wide
ONE_REFERENCE_WIDENING = 2.0  # with one reference, allow twice the sampling noise
PRECEDENTS = 2  # a value reached by this many past batches is not unusual
WIDEST = 3.0  # a short history widens a bound up to this many times the long-history one


@dataclass(frozen=True)
class Scale:
    name: str

    def forward(self, x: float) -> float:
        if self.name == "share":
            return math.asin(math.sqrt(min(max(x, 0.0), 1.0)))
        if self.name == "log":
            return math.log(max(x, 1e-300))
        if self.name == "gap":  # gaps under one standard error are all noise alike
            return math.log(max(x, 1.0))
        return x

    def back(self, y: float) -> float:
        if self.name == "share":
            return math.sin(min(max(y, 0.0), math.pi / 2)) ** 2
        if self.name == "log":
            return math.exp(min(y, 700.0))
        if self.name == "gap":
            return math.exp(min(y, 700.0))
        return y


SHARE, LOG, GAP, LINEAR = Scale("share"), Scale("log"), Scale("gap"), Scale("linear")


@dataclass(frozen=True)
class Bound:
    """The interval a statistic is expected in, and how the observation compares."""

    low: float | None
    high: float | None
    center: float
    z: float
    score: float  # > 1 outside the bound
    breached: bool
    history: int
    spread: float = 0.0  # standard deviation used, on the transformed scale
    q: float = 0.0  # the multiple of it the bound allows


@functools.lru_cache(maxsize=4096)
def quantile(tests: int, sides: int, history: int) -> float:
    """The multiple of the standard deviation that bounds one statistic: Student's t
    prediction quantile, widened by a short history up to WIDEST times the normal one."""
    tail = ALPHA / max(tests, 1) / sides
    normal = float(special.ndtri(1 - tail))
    if history >= 2:
        t = float(special.stdtrit(history - 1, 1 - tail)) * math.sqrt(1 + 1 / history)
        return min(t, WIDEST * normal)
    return normal


@functools.lru_cache(maxsize=1024)
def noise_quantile(tests: int, points: int) -> float:
    """The largest of ``points`` standard normal errors (either sign) at the family-wise rate."""
    return float(special.ndtri(1 - ALPHA / max(tests, 1) / (2 * max(points, 1))))


def judge(
    history: list[float],
    observed: float,
    scale: Scale,
    floor: float,
    min_effect: float,
    sides: int,
    tests: int,
    center_if_alone: float | None = None,
    noise_points: int = 0,
) -> Bound:
    """Judge ``observed`` against the ``history`` of the same statistic.

    ``floor`` is the sampling noise of the statistic on the transformed scale;
    ``min_effect`` the smallest change (on the original scale) worth an alarm;
    ``sides`` 1 when only an increase matters; ``center_if_alone`` the value to
    expect when history has no value; ``noise_points`` > 0 marks a maximum of that
    many standardised sampling errors (a distribution gap), whose bound is never
    below what pure sampling noise reaches at the family-wise rate.

    A statistic that never varied in a short history, and has no sampling noise to
    go by (a column constant over three batches), is not judged: nothing says how
    far it may move."""
    values = np.array([scale.forward(v) for v in history if math.isfinite(v)], dtype=float)
    count = len(values)
    if count >= 2:  # two values say little about spread: keep the one-reference widening
        widen = ONE_REFERENCE_WIDENING if count < 3 else 1.0
        center, spread = float(values.mean()), max(float(values.std(ddof=1)), floor * widen)
    elif count == 1:
        center, spread = float(values[0]), floor * ONE_REFERENCE_WIDENING
    else:
        center = scale.forward(center_if_alone if center_if_alone is not None else observed)
        spread = floor * ONE_REFERENCE_WIDENING
    unknown = spread == 0 and count < SHORT_HISTORY
    q = quantile(tests, sides, count)
    x = scale.forward(observed)
    z = (
        (x - center) / spread
        if spread > 0
        else (0.0 if x == center else math.copysign(math.inf, x - center))
    )
    low = scale.back(center - q * spread) if sides == 2 else None
    if low is not None and scale.name in ("share", "log", "gap"):
        low = max(low, 0.0)
    high = scale.back(center + q * spread)
    raw_center = scale.back(center)
    if noise_points:
        high = max(high, noise_quantile(tests, noise_points))
    if high - raw_center < min_effect:
        high = raw_center + min_effect
    if low is not None and raw_center - low < min_effect:
        low = (
            max(raw_center - min_effect, 0.0) if scale.name != "linear" else raw_center - min_effect
        )
    score = _score(observed, raw_center, low, high)
    breached = score > 1.0 and not unknown and not _has_precedent(values, x, center)
    return Bound(low, high, raw_center, z, score, breached, count, spread, q)


def _has_precedent(values: np.ndarray, x: float, center: float) -> bool:
    """At least PRECEDENTS past values as far out as ``x``, on its side of the center."""
    if x > center:
        return int((values >= x).sum()) >= PRECEDENTS
    return int((values <= x).sum()) >= PRECEDENTS


def _score(observed: float, center: float, low: float | None, high: float | None) -> float:
    """How far past its bound: 1.0 on the bound, 2.0 twice as far from the center."""
    if high is not None and observed > center:
        width = high - center
        return (observed - center) / width if width > 0 else math.inf
    if low is not None and observed < center:
        width = center - low
        return (center - observed) / width if width > 0 else math.inf
    return 0.0
