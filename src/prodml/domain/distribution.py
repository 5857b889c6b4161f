"""What a table version's columns hold, as its stored profile tells it, and how far
each column moved between two versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prodml.domain.validation import ColumnChart


@dataclass(frozen=True, kw_only=True)
class ColumnDistribution:
    """One column of a table version: its counts and the shape of its values. Numbers
    and times have a histogram and quantiles (times in milliseconds since 1970, UTC);
    categories have their most frequent values. ``missing`` counts nulls and NaN."""

    column: str
    type: str
    kind: str  # numeric, temporal, categorical or other
    rows: int
    missing: int
    distinct: int
    minimum: Any = None
    maximum: Any = None
    mean: float | None = None
    std: float | None = None
    quantiles: tuple[tuple[float, float], ...] = ()  # (probability, value)
    histogram: tuple[tuple[float, float, float], ...] = ()  # (low, high, share of values)
    top: tuple[tuple[str, int], ...] = ()  # (value, rows), most frequent first

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0


@dataclass(frozen=True, kw_only=True)
class ColumnShift:
    """How far one column's values moved from one version to another, from 0 (the same
    distribution) to 1 (no overlap): for numbers and times the largest gap between the
    two cumulative distributions (the Kolmogorov-Smirnov distance), for categories the
    share of values that would have to change category (total variation distance)."""

    column: str
    measure: str  # "ks" or "total variation"
    distance: float
    chart: ColumnChart | None = None  # shares per range or category, before vs after
