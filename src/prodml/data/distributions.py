"""Columns of a stored profile as people read them (histograms, quantiles, top values),
and the shift of each column between two profiles; read from the sketches, never
from the rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from prodml.data.charts import charts_for
from prodml.data.profile import TableProfile
from prodml.data.sketches import CATEGORICAL, TEMPORAL, ColumnProfile
from prodml.domain.distribution import ColumnDistribution, ColumnShift

BINS = 20
PROBABILITIES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
TOP = 10
KS_GRID = np.linspace(0.0, 1.0, 101)
# milliseconds per unit of the integers a time column is sketched in
_MILLISECONDS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}


def distributions(profile: TableProfile) -> tuple[ColumnDistribution, ...]:
    return tuple(_distribution(column) for column in profile.columns.values())


def _distribution(column: ColumnProfile) -> ColumnDistribution:
    scale = _scale(column)
    kind = column.kind if column.kind != TEMPORAL or scale is not None else "numeric"
    factor = scale or 1.0
    quantiles: tuple[tuple[float, float], ...] = ()
    histogram: tuple[tuple[float, float, float], ...] = ()
    if column.kll is not None and not column.kll.is_empty():
        values = column.kll.get_quantiles(list(PROBABILITIES))
        quantiles = tuple(
            (p, float(v) * factor) for p, v in zip(PROBABILITIES, values, strict=True)
        )
        histogram = tuple(
            (low * factor, high * factor, share) for low, high, share in _bins(column)
        )
    counts = column.counts() if column.kind == CATEGORICAL else {}
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    return ColumnDistribution(
        column=column.name,
        type=column.type,
        kind=kind,
        rows=column.rows,
        missing=column.nulls + column.nans,
        distinct=round(column.distinct),
        minimum=_scaled(column.minimum, factor),
        maximum=_scaled(column.maximum, factor),
        mean=_scaled(column.mean, factor),
        std=_scaled(column.std, factor),
        quantiles=quantiles,
        histogram=histogram,
        top=tuple(top),
    )


def _scaled(value: Any, factor: float) -> Any:
    """A number in the column's unit in milliseconds for times; text as it is."""
    return value * factor if isinstance(value, int | float) and factor != 1.0 else value


def _scale(column: ColumnProfile) -> float | None:
    """Milliseconds per sketched unit of a date or timestamp column, else None."""
    if column.kind != TEMPORAL:
        return None
    if column.type.startswith("date32"):
        return 86_400_000.0
    if column.type.startswith("date64"):
        return 1.0
    if column.type.startswith("timestamp["):
        unit = column.type.removeprefix("timestamp[").split(",")[0].rstrip("]")
        return _MILLISECONDS.get(unit)
    return None


def _bins(column: ColumnProfile) -> list[tuple[float, float, float]]:
    """Equal-width ranges from the smallest to the largest value and the share of
    values in each, from the quantile sketch's cumulative distribution."""
    low, high = float(column.minimum), float(column.maximum)
    if not np.isfinite(low) or not np.isfinite(high):
        low, high = float(column.kll.get_min_value()), float(column.kll.get_max_value())
    if high <= low:
        return [(low, high, 1.0)]
    edges = np.linspace(low, high, BINS + 1)
    cdf = column.kll.get_cdf(edges[1:-1].tolist())[:-1]
    shares = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    return [
        (float(a), float(b), round(float(max(s, 0.0)), 5))
        for a, b, s in zip(edges[:-1], edges[1:], shares, strict=True)
    ]


def shifts(before: TableProfile, after: TableProfile) -> tuple[ColumnShift, ...]:
    """Each column both profiles have, the most shifted first."""
    charts = {chart.column: chart for chart in charts_for(after, before, [])}
    found = []
    for name, column in after.columns.items():
        previous = before.columns.get(name)
        if previous is None:
            continue
        measured = _shift(previous, column)
        if measured is not None:
            found.append(
                ColumnShift(
                    column=name,
                    measure=measured[0],
                    distance=measured[1],
                    chart=charts.get(name),
                )
            )
    return tuple(sorted(found, key=lambda shift: -shift.distance))


def _shift(before: ColumnProfile, after: ColumnProfile) -> tuple[str, float] | None:
    if before.kll is not None and after.kll is not None:
        if before.kll.is_empty() or after.kll.is_empty():
            return None
        points = np.unique(
            np.concatenate(
                [
                    before.kll.get_quantiles(KS_GRID.tolist()),
                    after.kll.get_quantiles(KS_GRID.tolist()),
                ]
            )
        ).tolist()
        gap = np.abs(
            np.asarray(before.kll.get_cdf(points)[:-1]) - np.asarray(after.kll.get_cdf(points)[:-1])
        )
        return "ks", round(float(gap.max()), 5)
    if before.kind == CATEGORICAL and after.kind == CATEGORICAL:
        old, new = before.counts(), after.counts()
        if not before.valid or not after.valid:
            return None
        shares_old = {k: v / before.valid for k, v in old.items()}
        shares_new = {k: v / after.valid for k, v in new.items()}
        keys = set(shares_old) | set(shares_new)
        moved = sum(abs(shares_old.get(k, 0.0) - shares_new.get(k, 0.0)) for k in keys)
        rest = abs((1 - sum(shares_old.values())) - (1 - sum(shares_new.values())))
        return "total variation", round(min(1.0, (moved + rest) / 2), 5)
    return None
