"""Vega-Lite specs of a monitor's windows over time: input drift by column, the
prediction's distribution, the label metric with its lag, latency and errors. Each
chart marks the model's alerts over the windows they cover (a shaded band from the
first window's start to the last one's end, and a rule where it began)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from prodml.domain.monitoring import Alert, Window

WIDTH, HEIGHT = 520, 170
SEVERITY_COLOURS = {
    "info": "#8a8f9c",
    "warning": "#a15c00",
    "high": "#d0542c",
    "critical": "#b3261e",
}


def stats_of(window: Window | None) -> dict[str, Any]:
    """The statistics stored with a window (empty without one)."""
    return {} if window is None else dict(window.stats)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _x() -> dict[str, Any]:
    return {"field": "at", "type": "temporal", "title": None, "axis": {"format": "%d %b %H:%M"}}


def alert_layers(alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    """A band over each alert's windows and a rule at its start, with its title."""
    if not alerts:
        return []
    values = [
        {
            "at": a.window_start.isoformat(),
            "end": a.window_end.isoformat(),
            "alert": f"{a.id[:8]}: {a.title}",
            "severity": a.severity,
            "state": a.state.value,
        }
        for a in alerts
    ]
    colour = {
        "field": "severity",
        "type": "nominal",
        "scale": {"domain": list(SEVERITY_COLOURS), "range": list(SEVERITY_COLOURS.values())},
        "legend": None,
    }
    tooltip = [{"field": f} for f in ("alert", "severity", "state")]
    return [
        {
            "data": {"values": values},
            "mark": {"type": "rect", "opacity": 0.12},
            "encoding": {"x": _x(), "x2": {"field": "end"}, "color": colour, "tooltip": tooltip},
        },
        {
            "data": {"values": values},
            "mark": {"type": "rule", "strokeWidth": 2, "strokeDash": [4, 2]},
            "encoding": {"x": _x(), "color": colour, "tooltip": tooltip},
        },
    ]


def _chart(
    description: str, layers: list[dict[str, Any]], alerts: Sequence[Alert]
) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "description": description,
        "width": WIDTH,
        "height": HEIGHT,
        "layer": [*alert_layers(alerts), *layers],
        "resolve": {"scale": {"color": "independent"}},
    }


def _lines(
    values: list[dict[str, Any]], y_title: str, series_title: str, tooltip_format: str = ".4~g"
) -> dict[str, Any]:
    return {
        "data": {"values": values},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": _x(),
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {
                "field": "series",
                "type": "nominal",
                "title": series_title,
                "legend": {"labelLimit": 220},
            },
            "tooltip": [
                {"field": "at", "type": "temporal", "format": "%Y-%m-%d %H:%M"},
                {"field": "series", "title": series_title},
                {"field": "value", "format": tooltip_format},
            ],
        },
    }


def drift(columns: Iterable[Any], alerts: Sequence[Alert]) -> dict[str, Any]:
    """Each input column's distance from the baseline, per window."""
    values = [
        {"at": iso(c.start), "series": c.column, "value": c.distance, "measure": c.measure}
        for c in columns
    ]
    return _chart(
        "Input drift by column: each window's distance from the monitor's baseline",
        [_lines(values, "distance from baseline (0 same, 1 no overlap)", "column")],
        alerts,
    )


def predictions(shapes: Iterable[Any], alerts: Sequence[Alert]) -> dict[str, Any]:
    """The prediction's mean and its 5-95% band per window."""
    band, lines = [], []
    for shape in shapes:
        at = iso(shape.start)
        if 0.05 in shape.quantiles and 0.95 in shape.quantiles:
            band.append({"at": at, "low": shape.quantiles[0.05], "high": shape.quantiles[0.95]})
        if 0.5 in shape.quantiles:
            lines.append({"at": at, "series": "median", "value": shape.quantiles[0.5]})
        if shape.mean is not None:
            lines.append({"at": at, "series": "mean", "value": shape.mean})
    area = {
        "data": {"values": band},
        "mark": {"type": "area", "opacity": 0.2, "color": "#2c5fd6"},
        "encoding": {
            "x": _x(),
            "y": {"field": "low", "type": "quantitative", "title": "prediction"},
            "y2": {"field": "high"},
        },
    }
    return _chart(
        "Prediction distribution per window: mean, median and the 5-95% band",
        [area, _lines(lines, "prediction", "figure")],
        alerts,
    )


def label_metric(windows: Iterable[Window], alerts: Sequence[Alert]) -> dict[str, Any]:
    """The label metric per slice (the whole window and each named slice) per window."""
    values, metric = [], "metric"
    for window in windows:
        stats = stats_of(window)
        metric = stats.get("metric") or metric
        for name, figure in (stats.get("slices") or {}).items():
            values.append(
                {
                    "at": iso(window.start),
                    "series": name,
                    "value": figure["value"],
                    "n": figure["n"],
                }
            )
    return _chart(
        f"Label metric ({metric}) per slice, by the window the predictions were made in",
        [_lines(values, metric, "slice")],
        alerts,
    )


def label_lag(windows: Iterable[Window], alerts: Sequence[Alert]) -> dict[str, Any]:
    """How long labels took to arrive: the median and 90th percentile, in hours."""
    values = []
    for window in windows:
        stats = stats_of(window)
        for key, name in (("lag_median_s", "median"), ("lag_p90_s", "90th percentile")):
            if stats.get(key) is not None:
                values.append(
                    {"at": iso(window.start), "series": name, "value": stats[key] / 3600.0}
                )
    return _chart(
        "Label lag per window: hours from prediction to label",
        [_lines(values, "label lag (hours)", "lag", ".3~g")],
        alerts,
    )


def latency(windows: Iterable[Window], alerts: Sequence[Alert]) -> dict[str, Any]:
    return _figures(
        windows,
        alerts,
        {"p50_ms": "p50", "p99_ms": "p99"},
        "latency (ms)",
        "Latency per window: median and 99th percentile of answered requests",
    )


def errors(windows: Iterable[Window], alerts: Sequence[Alert]) -> dict[str, Any]:
    return _figures(
        windows,
        alerts,
        {"failure_rate": "failed", "fallback_rate": "fallback"},
        "share of requests",
        "Errors per window: failed and fallback answers",
    )


def _figures(
    windows: Iterable[Window],
    alerts: Sequence[Alert],
    keys: dict[str, str],
    y_title: str,
    description: str,
) -> dict[str, Any]:
    values = []
    for window in windows:
        stats = stats_of(window)
        for key, name in keys.items():
            if stats.get(key) is not None:
                values.append({"at": iso(window.start), "series": name, "value": stats[key]})
    return _chart(description, [_lines(values, y_title, "figure")], alerts)
