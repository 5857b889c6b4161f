"""Statistics a few rows cannot move: the mean and standard deviation of a column with
each value clamped into the range that held the middle of its history (between the
history's ``CLAMP`` and 1 - ``CLAMP`` quantiles), read from the quantile sketch.

A data-entry error (a price typed in cents, a distance in metres) moves a batch's
mean and standard deviation as far as it likes; clamped, it counts as a value at the
edge of that range, which moves them by a hair. The range is fixed by history, the
same for the batch and every past batch, so a change of the whole column (a unit,
a shift) still moves the clamped statistics, and they change smoothly with the data:
no rank cut that jumps when a batch holds a few more rows of some value."""

from __future__ import annotations

import numpy as np

from prodml.data.sketches import ColumnProfile

CLAMP = 0.01  # history's quantiles that bound the range values are clamped into
POINTS = 1000  # ranks each sketch is read at: a 0.1% resolution of shares


def clamp_range(pooled: ColumnProfile) -> tuple[float, float]:
    """The range values are clamped into: history's CLAMP and 1 - CLAMP quantiles."""
    low, high = pooled.kll.get_quantiles([CLAMP, 1 - CLAMP])
    return float(low), float(high)


def clamped(profile: ColumnProfile, low: float, high: float) -> tuple[float, float]:
    """Mean and standard deviation of the column with values clamped into [low, high]:
    the quantile function, clamped, averaged over evenly spaced ranks."""
    values = np.clip(_quantiles(profile), low, high)
    return float(values.mean()), float(values.std())


def _quantiles(profile: ColumnProfile) -> np.ndarray:
    """The sketch read at POINTS ranks, kept on the profile: past batches are read
    again for every batch judged against them."""
    kept = profile._grid
    if kept is not None and kept[0] is profile.kll:
        return kept[1]
    ranks = (np.arange(POINTS) + 0.5) / POINTS
    values = np.asarray(profile.kll.get_quantiles(ranks.tolist()), dtype=np.float64)
    profile._grid = (profile.kll, values)
    return values
