"""Confidence sequences: intervals that hold at every look at a growing sample at once.

The rollout controller judges a step on every tick and acts on the first fail or the
first all-pass. An interval at a fixed confidence would, over many looks, exclude the
true value far more often than its level says: 40 looks at a 95% interval miss it in
about a quarter of steps, not one in twenty. So a check judged by the controller uses
a confidence sequence instead: intervals, one per look, that all hold at once with
probability ``confidence``, however many looks there are and whenever the controller
stops. Nothing is stored between looks: each interval depends only on the count.

Two mixture martingales (Robbins, 1970; Howard, Ramdas, McAuliffe and Sekhon, 2021)
give them, by Ville's inequality: a nonnegative martingale that starts at 1 ever
reaches 1/alpha with probability at most alpha (alpha = 1 - confidence).

- Shares (error rate, agreement) and the order statistics of a p99: the beta-binomial
  mixture. For a share p0 after s successes in n,
  ``M = B(a + s, b + n - s) / (B(a, b) * p0**s * (1 - p0)**(n - s))``, and the interval
  is every p0 with ``M < 1/alpha``. Exact on any number of rows, however rare the
  event. The Beta(a, b) prior is centred on the check's limit with the spread of the
  normal mixture below, so it is tightest there.
- Bootstrap checks (p99 ratio, distance, label metrics): the two-sided normal-mixture
  boundary as an asymptotic confidence sequence (Waudby-Smith, Arnold, Wu, Ramdas and
  Howard, 2021). One look's interval ``value +- z * se`` is widened to
  ``value +- z_n * se`` with

      z_n**2 = (1 + 1 / (n * r2)) * 2 * log(sqrt(n * r2 + 1) / alpha),
      r2     = (-2 log(alpha) + log(1 - 2 log(alpha))) / planned.

``planned`` (the step's ``min_requests``, or ``min_labels`` for labels) is where both
are tightest: for 95%, z_n is about 3.0 there against 1.96 for one look, wider on few
rows (an early verdict needs strong evidence) and growing only like sqrt(log n) past
it, so a step that stays inconclusive may be looked at for ever without spending more.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import optimize, special, stats

EDGE = 1e-12  # shares are searched in [EDGE, 1 - EDGE]


@lru_cache(maxsize=64)
def fixed_z(confidence: float) -> float:
    """The normal quantile of a two-sided interval at ``confidence`` for one look."""
    return float(stats.norm.isf((1.0 - confidence) / 2))


def _r2(confidence: float, planned: int) -> float:
    alpha = 1.0 - confidence
    return (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / max(1, planned)


@lru_cache(maxsize=4096)
def z(n: int, confidence: float, planned: int) -> float:
    """The normal-mixture multiplier of the standard error at ``n`` observations."""
    scale = max(1, n) * _r2(confidence, planned)
    return math.sqrt((1 + 1 / scale) * 2 * math.log(math.sqrt(scale + 1) / (1 - confidence)))


def widening(n: int, confidence: float, planned: int) -> float:
    """How much wider than one look's interval the sequence's is at ``n``."""
    return z(n, confidence, planned) / fixed_z(confidence)


def _prior(confidence: float, planned: int, centre: float) -> tuple[float, float]:
    """Beta(a, b) with mean ``centre`` and the normal mixture's variance r2 * p * (1 - p)."""
    weight = max(1.0, 1.0 / _r2(confidence, planned) - 1.0)
    mean = min(max(centre, 1e-6), 1 - 1e-6)
    return weight * mean, weight * (1 - mean)


def _log_mixture(share: float, successes: int, n: int, a: float, b: float) -> float:
    """log M at the share: the evidence against it after ``successes`` in ``n``."""
    fit = math.lgamma(a + successes) + math.lgamma(b + n - successes) - math.lgamma(a + b + n)
    prior = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    likelihood = successes * math.log(share) + (n - successes) * math.log1p(-share)
    return fit - prior - likelihood


@lru_cache(maxsize=4096)  # the controller asks again with the same counts between requests
def share_bounds(
    successes: int, n: int, confidence: float, planned: int, centre: float
) -> tuple[float, float]:
    """The shares not yet ruled out after ``successes`` in ``n``: the set where
    log M < log(1/alpha), an interval around s/n (log M is convex in the share)."""
    a, b = _prior(confidence, planned, centre)
    level = -math.log(1 - confidence)

    def excess(share: float) -> float:
        return _log_mixture(share, successes, n, a, b) - level

    seen = min(max(successes / n, EDGE), 1 - EDGE)
    low = 0.0 if excess(EDGE) <= 0 else optimize.brentq(excess, EDGE, seen, xtol=1e-10)
    high = 1.0 if excess(1 - EDGE) <= 0 else optimize.brentq(excess, seen, 1 - EDGE, xtol=1e-10)
    return float(low), float(high)


@lru_cache(maxsize=4096)
def count_range(n: int, share: float, confidence: float, planned: int) -> tuple[int, int]:
    """The success counts in ``n`` rows a true ``share`` keeps within, at every n at once:
    the counts where log M < log(1/alpha) at the share (log M is convex in the count)."""
    a, b = _prior(confidence, planned, share)
    counts = np.arange(n + 1, dtype=np.float64)
    fit = special.gammaln(a + counts) + special.gammaln(b + n - counts)
    fit -= special.gammaln(a + b + n)
    prior = special.gammaln(a) + special.gammaln(b) - special.gammaln(a + b)
    likelihood = counts * math.log(share) + (n - counts) * math.log1p(-share)
    inside = np.flatnonzero(fit - prior - likelihood < -math.log(1 - confidence))
    return (int(inside[0]), int(inside[-1])) if len(inside) else (0, n)
