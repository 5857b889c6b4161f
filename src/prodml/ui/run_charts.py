"""Vega-Lite specs for the runs pages: metric curves (one run or several overlaid)
and parallel coordinates of config values against a metric. Built server-side as
JSON data; values are placed as data, never as expressions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from prodml.domain.run import MetricPoint, Run, flatten_config

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
MAX_POINTS = 2000  # points drawn per curve; longer histories are thinned evenly
MAX_AXES = 12  # config keys drawn as axes of the parallel coordinates


def thinned(points: Sequence[MetricPoint], limit: int = MAX_POINTS) -> list[MetricPoint]:
    """At most ``limit`` points, evenly spaced, always keeping the last."""
    if len(points) <= limit:
        return list(points)
    stride = math.ceil(len(points) / limit)
    kept = list(points[::stride])
    return kept if kept[-1] is points[-1] else [*kept, points[-1]]


def curves(histories: Mapping[str, Sequence[MetricPoint]], metric: str) -> dict[str, Any]:
    """One line per run (keyed by its label) of ``metric`` over steps."""
    values = [
        {"run": label, "step": point.step, "value": point.value}
        for label, points in histories.items()
        for point in thinned(points)
        if math.isfinite(point.value)
    ]
    return {
        "$schema": SCHEMA,
        "width": "container",
        "height": 240,
        "title": metric,
        "data": {"values": values},
        "mark": {"type": "line", "point": len(values) <= 200, "tooltip": True},
        "encoding": {
            "x": {"field": "step", "type": "quantitative", "title": "step"},
            "y": {
                "field": "value",
                "type": "quantitative",
                "title": metric,
                "scale": {"zero": False},
            },
            "color": {"field": "run", "type": "nominal", "title": "run"},
        },
    }


def _axes(runs: Sequence[Run], limit: int) -> list[str]:
    """Config keys whose values differ between the runs (all keys when none differ)."""
    flat = [flatten_config(run.config) for run in runs]
    keys = sorted({key for config in flat for key in config})
    varying = [k for k in keys if len({repr(config.get(k)) for config in flat}) > 1]
    return (varying or keys)[:limit]


def _positions(values: list[Any]) -> tuple[list[float | None], list[str]]:
    """Each value's place on its axis in [0, 1]: numbers by value, anything else by its
    rank among the distinct texts; with the axis's two end labels."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len([v for v in values if v is not None]) and numbers:
        low, high = min(numbers), max(numbers)
        spread = (high - low) or 1.0
        placed = [None if v is None else (float(v) - low) / spread for v in values]
        return placed, [f"{low:g}", f"{high:g}"]
    texts = sorted({str(v) for v in values if v is not None})
    rank = {text: index for index, text in enumerate(texts)}
    spread = max(len(texts) - 1, 1)
    placed = [None if v is None else rank[str(v)] / spread for v in values]
    return placed, [texts[0], texts[-1]] if texts else ["", ""]


def parallel(runs: Sequence[Run], metric: str) -> dict[str, Any] | None:
    """Parallel coordinates: an axis per varying config key and one for ``metric``,
    a line per run coloured by the metric; None when no run has both."""
    chosen = [run for run in runs if math.isfinite(run.metrics.get(metric, math.nan))]
    axes = _axes(chosen, MAX_AXES)
    if len(chosen) < 2 or not axes:
        return None
    flat = [flatten_config(run.config) for run in chosen]
    columns = {f"config.{key}": [config.get(key) for config in flat] for key in axes}
    columns[f"metrics.{metric}"] = [run.metrics[metric] for run in chosen]
    values, ends = [], []
    for axis, column in columns.items():
        placed, (low, high) = _positions(column)
        ends += [{"axis": axis, "at": 0.0, "label": low}, {"axis": axis, "at": 1.0, "label": high}]
        for run, position, value in zip(chosen, placed, column, strict=True):
            if position is not None:
                values.append(
                    {
                        "run": run.id[:12],
                        "axis": axis,
                        "at": position,
                        "value": str(value),
                        "score": run.metrics[metric],
                    }
                )
    order = list(columns)
    x = {"field": "axis", "type": "nominal", "sort": order, "title": None}
    return {
        "$schema": SCHEMA,
        "width": "container",
        "height": 260,
        "title": f"config against {metric}",
        "layer": [
            {
                "data": {"values": values},
                "mark": {"type": "line", "opacity": 0.7, "tooltip": True},
                "encoding": {
                    "x": {**x, "axis": {"labelAngle": 0, "domain": False}},
                    "y": {"field": "at", "type": "quantitative", "axis": None},
                    "detail": {"field": "run"},
                    "color": {"field": "score", "type": "quantitative", "title": metric},
                    "tooltip": [{"field": "run"}, {"field": "axis"}, {"field": "value"}],
                },
            },
            {
                "data": {"values": ends},
                "mark": {"type": "text", "dy": 0, "align": "left", "dx": 3, "fontSize": 10},
                "encoding": {
                    "x": x,
                    "y": {"field": "at", "type": "quantitative", "axis": None},
                    "text": {"field": "label"},
                },
            },
        ],
    }
