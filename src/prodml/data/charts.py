"""Reference vs current distributions of columns, for reports."""

from __future__ import annotations

import itertools

import numpy as np

from prodml.data.profile import TableProfile
from prodml.data.sketches import CATEGORICAL, ColumnProfile
from prodml.domain.validation import ColumnChart

MAX_CHARTS = 24
BINS = 10
CATEGORIES = 10


def charts_for(
    batch: TableProfile, pooled: TableProfile, first: list[str]
) -> tuple[ColumnChart, ...]:
    """Charts of the columns in ``first`` (those at fault), then of the others, the
    batch against ``pooled``, the merged profile of its history."""
    order = list(dict.fromkeys([*first, *batch.columns]))
    charts = []
    for name in order:
        if name not in pooled.columns or name not in batch.columns:
            continue
        chart = _chart(name, pooled.columns[name], batch.columns[name])
        if chart is not None:
            charts.append(chart)
        if len(charts) >= MAX_CHARTS:
            break
    return tuple(charts)


def _chart(name: str, reference: ColumnProfile, current: ColumnProfile) -> ColumnChart | None:
    if reference.kll is not None and current.kll is not None:
        edges = np.unique(reference.kll.get_quantiles(np.linspace(0, 1, BINS + 1).tolist()))
        low, high = min(edges[0], current.minimum), max(edges[-1], current.maximum)
        edges = np.unique(np.concatenate([[low], edges[1:-1], [high]]))
        if len(edges) < 2:
            edges = np.array([low, high + 1.0])
        inner = edges[1:-1].tolist()
        ref = np.diff(np.concatenate([[0.0], reference.kll.get_cdf(inner)[:-1], [1.0]]))
        cur = np.diff(np.concatenate([[0.0], current.kll.get_cdf(inner)[:-1], [1.0]]))
        labels = tuple(f"{a:.4g} to {b:.4g}" for a, b in itertools.pairwise(edges))
        return ColumnChart(
            column=name, kind="numeric", labels=labels, reference=_r(ref), current=_r(cur)
        )
    if current.kind == CATEGORICAL and reference.items is not None:
        ref_counts, cur_counts = reference.counts(), current.counts()
        top = sorted(ref_counts, key=ref_counts.__getitem__, reverse=True)[:CATEGORIES]
        new = [
            k
            for k in sorted(cur_counts, key=cur_counts.__getitem__, reverse=True)
            if k not in ref_counts
        ]
        top += new[:3]
        ref_shares = [ref_counts.get(k, 0) / max(reference.valid, 1) for k in top]
        cur_shares = [cur_counts.get(k, 0) / max(current.valid, 1) for k in top]
        labels = (*top, "(other)")
        return ColumnChart(
            column=name,
            kind="categorical",
            labels=labels,
            reference=_r([*ref_shares, max(0.0, 1 - sum(ref_shares))]),
            current=_r([*cur_shares, max(0.0, 1 - sum(cur_shares))]),
        )
    return None


def _r(values: object) -> tuple[float, ...]:
    return tuple(round(float(v), 5) for v in np.asarray(values, dtype=float))
