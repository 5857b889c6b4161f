"""The statistics a batch is judged on, measured on the batch and on each past batch.

Per column: the share of nulls, and either the distribution (numbers: the largest
standardised gap between the batch's and the history's cumulative distribution on
a grid of history quantiles; categories: the largest standardised gap between
category shares), the mean, the spread and the share of values outside the range
seen before; or, for categories, the share of values never seen before. Per table:
the row count and the share of duplicate rows.

Distribution gaps of a past batch are taken against the history without it;
novelty (new values, values out of range) of a past batch against the batches
before it, in history order, as a new batch is judged."""

from __future__ import annotations

import math

import numpy as np

from prodml.data.calibration import GAP, LINEAR, LOG, SHARE
from prodml.data.extremes import extreme_rows
from prodml.data.measurement import Measurement
from prodml.data.profile import TableProfile
from prodml.data.robust import clamp_range, clamped
from prodml.data.sketches import CATEGORICAL, NUMERIC, ColumnProfile
from prodml.domain.validation import FindingKind

__all__ = ["Measurement", "measure_column", "measure_table", "share"]

GRID = np.linspace(1 / 40, 39 / 40, 39)
TOP_CATEGORIES = 30
SHARE_EFFECT = 0.01  # a share must move by a percentage point to alarm
GAP_SCALE = GAP  # log of the noise-scaled gap, gaps under 1 counting as 1
GAP_FLOOR = 0.1
NULL_GAP = 2.5  # a noise-scaled gap expected between two samples of one distribution
GAP_EFFECT = 0.05  # standardised distribution gap (about 2.5% of the mass at the median)
MEAN_EFFECT = 0.1  # in standard deviations of the column
SPREAD_EFFECT = math.log(1.25)
ROWS_EFFECT = math.log(1.25)


def share(
    column: str | None,
    statistic: str,
    history: list[float],
    observed: float,
    rows: int,
    history_rows: list[int],
    examples: list[str] | None = None,
    novelty: bool = False,
) -> Measurement:
    """A share of rows (nulls, duplicates, new values...) that alarms only upwards;
    a ``novelty`` share (values never seen) is expected to be 0 without history."""
    return Measurement(
        column,
        statistic,
        FindingKind.SOFT,
        history,
        observed,
        SHARE,
        _share_floor(rows, history_rows),
        SHARE_EFFECT,
        1,
        center_if_alone=0.0 if novelty else None,
        examples=examples or [],
    )


def measure_table(history: list[TableProfile], batch: TableProfile) -> list[Measurement]:
    rows = [h.rows for h in history]
    found = [
        share(
            None,
            "duplicate_share",
            [h.duplicate_share for h in history],
            batch.duplicate_share,
            batch.rows,
            rows,
        )
    ]
    if len(history) >= 3:
        found.append(
            Measurement(
                None,
                "row_count",
                FindingKind.SOFT,
                [float(h.rows) for h in history],
                float(batch.rows),
                LOG,
                1 / math.sqrt(max(batch.rows, 1)),
                0.0,
                2,
            )
        )
        typical = float(np.median([h.rows for h in history]))
        found[-1].min_effect = typical * (1 - math.exp(-ROWS_EFFECT))
    return found


def measure_column(
    name: str,
    history: list[ColumnProfile],
    pooled: ColumnProfile,
    batch: ColumnProfile,
    key: bool = False,
) -> list[Measurement]:
    """The column's statistics. Key columns (identifiers) and times move by design:
    they are judged on completeness only."""
    rows = [h.rows for h in history]
    found = [
        share(
            name, "null_share", [h.null_share for h in history], batch.null_share, batch.rows, rows
        )
    ]
    if key or batch.valid == 0 or pooled.valid == 0:
        return found
    if batch.kind == NUMERIC and pooled.kll is not None and batch.kll is not None:
        found += _numeric(name, history, pooled, batch)
    elif batch.kind == CATEGORICAL and pooled.items is not None and batch.items is not None:
        found += _categorical(name, history, pooled, batch)
    return found


def _numeric(
    name: str, history: list[ColumnProfile], pooled: ColumnProfile, batch: ColumnProfile
) -> list[Measurement]:
    grid = np.unique(np.asarray(pooled.kll.get_quantiles(GRID.tolist()), dtype=float))
    reference = np.asarray(pooled.kll.get_cdf(grid.tolist()))[:-1]
    gaps = [
        _gap(_cdf(h, grid), reference) / (1 - h.valid / pooled.valid) / _noise(h.valid, pooled)
        for h in history
        if h.kll is not None and h.valid < pooled.valid
    ]
    found = [
        _distribution(name, gaps, _gap(_cdf(batch, grid), reference), batch, pooled, len(grid))
    ]
    spread = pooled.std or 0.0
    scale = max(spread, abs(pooled.mean or 0.0) * 1e-9, 1e-12)
    twins = _clamped(name, history, pooled, batch)
    if batch.mean is not None:
        found.append(
            Measurement(
                name,
                "mean",
                FindingKind.DRIFT,
                [h.mean for h in history if h.mean is not None],
                batch.mean,
                LINEAR,
                spread * math.sqrt(1 / batch.valid + 1 / pooled.valid),
                MEAN_EFFECT * scale,
                2,
                robust=twins[0],
            )
        )
    if batch.mean is not None and any((h.std or 0.0) > 0 for h in history):
        found.append(  # a spread that was always zero has no scale to move on
            _spread(
                name,
                "std",
                [h.std or 0.0 for h in history if h.valid >= 2],
                batch.std or 0.0,
                batch.valid,
                spread,
                scale,
                twins[1],
            )
        )
    found.append(_out_of_range(name, history, batch))
    wild = extreme_rows(name, history, pooled, batch)
    return [*found, wild] if wild is not None else found


def _spread(
    name: str,
    statistic: str,
    history: list[float],
    observed: float,
    valid: int,
    spread: float,
    scale: float,
    robust: Measurement | None = None,
) -> Measurement:
    """A standard deviation on the log scale; ``scale`` * 1e-6 keeps a zero finite."""
    tiny = scale * 1e-6
    return Measurement(
        name,
        statistic,
        FindingKind.DRIFT,
        [value + tiny for value in history],
        observed + tiny,
        LOG,
        math.sqrt(2 / max(valid, 2)),
        (spread + tiny) * (1 - math.exp(-SPREAD_EFFECT)),
        2,
        robust=robust,
    )


def _clamped(
    name: str, history: list[ColumnProfile], pooled: ColumnProfile, batch: ColumnProfile
) -> tuple[Measurement, Measurement]:
    """The mean and the spread with values clamped into the range that held the
    middle of history: the twins that decide a change of mean or spread."""
    low, high = clamp_range(pooled)
    past = [clamped(h, low, high) for h in history if h.kll is not None and h.valid >= 2]
    center, spread = clamped(pooled, low, high)
    now_center, now_spread = clamped(batch, low, high)
    scale = max(spread, abs(center) * 1e-9, 1e-12)
    mean = Measurement(
        name,
        "clamped_mean",
        FindingKind.DRIFT,
        [m for m, _ in past],
        now_center,
        LINEAR,
        spread * math.sqrt(1 / batch.valid + 1 / pooled.valid),
        MEAN_EFFECT * scale,
        2,
    )
    deviation = _spread(
        name, "clamped_std", [s for _, s in past], now_spread, batch.valid, spread, scale
    )
    return mean, deviation


def _out_of_range(name: str, history: list[ColumnProfile], batch: ColumnProfile) -> Measurement:
    def outside(profile: ColumnProfile, low: float, high: float) -> float:
        if profile.minimum >= low and profile.maximum <= high:
            return 0.0
        below = float(profile.kll.get_rank(low, inclusive=False)) if profile.minimum < low else 0.0
        above = (
            1.0 - float(profile.kll.get_rank(high, inclusive=True))
            if profile.maximum > high
            else 0.0
        )
        return (below + above) * profile.valid / profile.rows

    ranged = [h for h in history if h.kll is not None and h.minimum is not None]
    shares = [
        outside(h, min(p.minimum for p in ranged[:i]), max(p.maximum for p in ranged[:i]))
        for i, h in enumerate(ranged)
        if i > 0
    ]
    low = min(p.minimum for p in ranged)
    high = max(p.maximum for p in ranged)
    observed = outside(batch, low, high)
    rows = [h.rows for h in history]
    return share(
        name,
        "out_of_range_share",
        shares,
        observed,
        batch.rows,
        rows,
        [f"[{low:g}, {high:g}]"],
        novelty=True,
    )


def _categorical(
    name: str, history: list[ColumnProfile], pooled: ColumnProfile, batch: ColumnProfile
) -> list[Measurement]:
    pooled_counts = pooled.counts()
    top = sorted(pooled_counts, key=pooled_counts.__getitem__, reverse=True)[:TOP_CATEGORIES]
    reference = _shares(pooled_counts, top, pooled.valid)
    gaps = [
        _gap(_shares(h.counts(), top, h.valid), reference)
        / (1 - h.valid / pooled.valid)
        / _noise(h.valid, pooled)
        for h in history
        if h.valid and h.valid < pooled.valid
    ]
    batch_counts = batch.counts()
    observed = _gap(_shares(batch_counts, top, batch.valid), reference)
    found = [_distribution(name, gaps, observed, batch, pooled, len(top) + 1)]
    seen: set[str] = set()
    novelty = []
    for i, past in enumerate(history):
        counts = past.counts()
        if i > 0 and past.rows:
            novelty.append(
                max((c for k, c in counts.items() if k not in seen), default=0) / past.rows
            )
        seen.update(counts)
    new = {k: c for k, c in batch_counts.items() if k not in seen}
    ranked = sorted(new, key=new.__getitem__, reverse=True)
    total = sum(new.values()) / batch.rows if batch.rows else 0.0
    found.append(
        share(
            name,
            "new_category_share",
            novelty,
            new[ranked[0]] / batch.rows if ranked else 0.0,
            batch.rows,
            [h.rows for h in history],
            [*ranked[:5], f"{len(new)} new value(s) in {total:.1%} of rows"],
            novelty=True,
        )
    )
    return found


def _cdf(profile: ColumnProfile, grid: np.ndarray) -> np.ndarray:
    return np.asarray(profile.kll.get_cdf(grid.tolist()))[:-1]


def _shares(counts: dict[str, int], top: list[str], valid: int) -> np.ndarray:
    if not valid:
        return np.zeros(len(top) + 1)
    shares = np.array([counts.get(k, 0) for k in top], dtype=float) / valid
    return np.append(shares, max(0.0, 1.0 - shares.sum()))


def _gap(current: np.ndarray, reference: np.ndarray) -> float:
    """The largest gap between two distributions, each point in units of its binomial
    spread, so a move in a tail counts as much as one at the median."""
    spread = np.sqrt(np.clip(reference * (1 - reference), 0.0025, None))
    return float(np.max(np.abs(current - reference) / spread)) if len(reference) else 0.0


def _distribution(
    name: str,
    gaps: list[float],
    gap: float,
    batch: ColumnProfile,
    pooled: ColumnProfile,
    points: int,
) -> Measurement:
    """The distribution gap in units of its sampling noise, so batches of any size
    compare with a history of batches of another size."""
    noise = math.sqrt(1 / max(batch.valid, 1) + 1 / max(pooled.valid, 1))
    return Measurement(
        name,
        "distribution",
        FindingKind.DRIFT,
        gaps,
        gap / noise,
        GAP_SCALE,
        GAP_FLOOR,
        GAP_EFFECT / noise,
        1,
        center_if_alone=NULL_GAP,
        noise_points=points,
    )


def _noise(valid: int, pooled: ColumnProfile) -> float:
    """Sampling noise of the gap between one past batch and the rest of history."""
    return math.sqrt(1 / max(valid, 1) + 1 / max(pooled.valid - valid, 1))


def _share_floor(rows: int, history_rows: list[int]) -> float:
    """Binomial sampling noise of a share, on the arcsine-square-root scale."""
    typical = max(float(np.median(history_rows)) if history_rows else 1.0, 1.0)
    return 0.5 * math.sqrt(1 / max(rows, 1) + 1 / typical)
