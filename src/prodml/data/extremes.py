"""Rows far outside the range seen before: values past the history's minimum or maximum
by more than ``FAR`` interquartile ranges of the history, counted exactly (every profile
keeps its smallest and largest values) and judged by how often chance alone would put
that many of them in one batch.

If the batch and its history hold values of one distribution, the chance that a batch
of n values holds m values beyond all H values of its history is at most
(n / (H + n)) ** m, whatever the distribution; far beyond them is rarer still, and the
m values split between the two ends in m + 1 ways. So a handful of wild rows is a
finding only when chance cannot explain them: with 30 past batches of the batch's
size it takes three such rows (four once the validation runs 75 tests or more), and
a single wild row (which a table's own data-entry errors produce now and then) is
no alarm. A column whose past batches had rows far
outside the other past batches' range (S of them) shows such rows are its habit; the
batch's m then count against S + m: the p-value is (m + 1) P[Binomial(S + m, n / (H + n))
>= m], never below the bound above, so the test stays within its share of the
family-wise rate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special  # not scipy.stats: importing it costs a second

from prodml.data.calibration import ALPHA, LINEAR, Bound
from prodml.data.measurement import Measurement
from prodml.data.sketches import EXTREMES, ColumnProfile
from prodml.domain.validation import FindingKind

FAR = 3.0  # interquartile ranges past the history's minimum or maximum
SHOWN = 3  # wild values quoted in the message
EXACT_UP_TO = 1024  # counts past this are tried on a geometric grid for the bound shown


@dataclass
class ExtremeRows(Measurement):
    """The count of the batch's values past the fences; ``history`` holds each past
    batch's count past the fences of the other past batches."""

    low: float = -math.inf
    high: float = math.inf
    share: float = 0.0  # of all values, the batch's: n / (H + n)
    valid: int = 0
    wild: list[float] = field(default_factory=list)

    def judge(self, tests: int, observed: float | None = None) -> Bound:
        count = round(self.observed if observed is None else observed)
        habit = round(sum(self.history))
        threshold = ALPHA / max(tests, 1)
        p = _p_value(count, habit, self.share)
        most = _most_by_chance(habit, self.share, threshold, self.valid)
        center = habit * self.share / (1 - self.share) if self.share < 1 else 0.0
        z = -float(special.ndtri(max(p, 1e-300))) if p < 0.5 else 0.0  # one-sided
        score = (count - center) / (most - center) if most > center else math.inf
        breached = p <= threshold and count > 0
        return Bound(None, float(most), center, z, max(score, 0.0), breached, len(self.history))

    def describe(self, bound: Bound) -> str | None:
        where = f"column {self.column!r}" if self.column else "the table"
        examples = ", ".join(f"{v:.6g}" for v in self.wild)
        habit = (
            f"{round(sum(self.history))} such row(s) in {len(self.history)} past batches"
            if self.history
            else "no past batch kept its extreme values to compare"
        )
        return (
            f"The number of rows of {where} far outside the range seen before is "
            f"{float(f'{self.observed:.4g}')} (below {self.low:.4g} or above {self.high:.4g}: "
            f"past the history's minimum or maximum by more than {FAR:g} interquartile "
            f"ranges), e.g. {examples}; chance alone puts at most {bound.high:g} in a batch "
            f"of this size, with {habit}. Check them at the source: a unit or a typing error?"
        )


def extreme_rows(
    name: str, history: list[ColumnProfile], pooled: ColumnProfile, batch: ColumnProfile
) -> ExtremeRows | None:
    """The measurement, or None when a profile lacks its ends (written before they
    were kept) or history has no range."""
    ranged = [h for h in history if h.valid and h.minimum is not None]
    if batch.lowest is None or batch.highest is None or not ranged or pooled.kll is None:
        return None
    q1, q3 = (float(q) for q in pooled.kll.get_quantiles([0.25, 0.75]))
    margin = FAR * (q3 - q1)
    low = min(h.minimum for h in ranged) - margin
    high = max(h.maximum for h in ranged) + margin
    count, wild = _beyond(batch, low, high)
    total = sum(h.valid for h in ranged) + batch.valid
    return ExtremeRows(
        name,
        "extreme_rows",
        FindingKind.SOFT,
        _habit(ranged, margin),
        float(count),
        LINEAR,
        0.0,
        0.0,
        1,
        low=low,
        high=high,
        share=batch.valid / total,
        valid=batch.valid,
        wild=wild[:SHOWN],
    )


def _habit(history: list[ColumnProfile], margin: float) -> list[float]:
    """Each past batch's count past the range of all the other past batches."""
    if len(history) < 2:
        return []
    lows = np.array([h.minimum for h in history], dtype=np.float64)
    highs = np.array([h.maximum for h in history], dtype=np.float64)
    low_order, high_order = np.argsort(lows), np.argsort(-highs)
    counts = []
    for i, past in enumerate(history):
        if past.lowest is None or past.highest is None:
            continue
        others_low = lows[low_order[1] if low_order[0] == i else low_order[0]]
        others_high = highs[high_order[1] if high_order[0] == i else high_order[0]]
        counts.append(float(_beyond(past, others_low - margin, others_high + margin)[0]))
    return counts


def _beyond(profile: ColumnProfile, low: float, high: float) -> tuple[int, list[float]]:
    """How many values lie below ``low`` or above ``high``, and the wildest of them."""
    assert profile.lowest is not None and profile.highest is not None
    below = profile.lowest[profile.lowest < low]
    above = profile.highest[profile.highest > high]
    count = len(below) + len(above)
    if profile.kll is not None and EXTREMES in (len(below), len(above)):
        # more than the kept ends: the quantile sketch counts the rest, approximately
        n = profile.kll.n
        under = round(float(profile.kll.get_rank(low, inclusive=False)) * n)
        over = round((1 - float(profile.kll.get_rank(high, inclusive=True))) * n)
        count = max(count, under + over)
    wildest = sorted([*below, *above], key=lambda v: -max(low - v, v - high))
    return count, [float(v) for v in wildest]


def _p_value(count: int, habit: int, share: float) -> float:
    if count <= 0:
        return 1.0
    tail = float(special.bdtrc(count - 1, habit + count, share))  # P[X >= count]
    return min(1.0, (count + 1) * tail)


def _most_by_chance(habit: int, share: float, threshold: float, valid: int) -> int:
    """The largest count that is no finding: one less than the least count whose
    p-value is at most ``threshold`` (all ``valid`` values if none is). Past
    EXACT_UP_TO the counts tried are about 1% apart: the bound shown is that close; the
    finding itself is decided on the batch's own count."""
    counts = np.arange(1, min(valid, EXACT_UP_TO) + 1)
    if valid > EXACT_UP_TO:
        wider = np.geomspace(EXACT_UP_TO + 1, valid, 1000).round().astype(np.int64)
        counts = np.unique(np.concatenate([counts, wider]))
    tails = special.bdtrc(counts - 1, habit + counts, share) * (counts + 1)
    alarming = np.flatnonzero(tails <= threshold)
    if not len(alarming):
        return valid
    least = int(counts[alarming[0]])
    return least - 1
