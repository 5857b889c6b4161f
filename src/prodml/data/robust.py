"""Statistics a few rows cannot move: the mean and standard deviation of a column's
middle, without its most extreme values at each end, read from the quantile sketch.

A data-entry error (a price typed in cents, a distance in metres) moves a batch's
mean and standard deviation as far as it likes; it does not move the middle's. The
share cut at each end is the same for the batch and for every past batch it is
compared with (the statistic depends on it): at least ``TRIM``, and enough to hold
``TRIM_ROWS`` rows of the smaller of the batch and a typical past batch."""

from __future__ import annotations

import numpy as np

from prodml.data.sketches import ColumnProfile

TRIM = 0.01  # the share cut at each end
TRIM_ROWS = 3  # ... and at least this many rows at each end of a small batch
MOST = 0.1  # never more than this share at each end
POINTS = 400  # ranks the middle is read at


def trim_share(batch_valid: int, history_valid: list[int]) -> float:
    """The share cut at each end, for a batch of ``batch_valid`` values judged against
    past batches of ``history_valid`` values."""
    typical = float(np.median(history_valid)) if history_valid else float(batch_valid)
    rows = max(min(float(batch_valid), typical), 1.0)
    return min(max(TRIM, TRIM_ROWS / rows), MOST)


def middle(profile: ColumnProfile, trim: float) -> tuple[float, float]:
    """Mean and standard deviation of the values between the ``trim`` and 1 - ``trim``
    quantiles: the quantile function averaged over evenly spaced ranks of the middle."""
    cached = profile._middle
    if cached is not None and cached[0] is profile.kll and cached[1] == trim:
        return cached[2]
    ranks = trim + (1 - 2 * trim) * (np.arange(POINTS) + 0.5) / POINTS
    values = np.asarray(profile.kll.get_quantiles(ranks.tolist()), dtype=np.float64)
    found = (float(values.mean()), float(values.std()))
    profile._middle = (profile.kll, trim, found)
    return found
