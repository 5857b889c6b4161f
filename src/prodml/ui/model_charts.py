"""Vega-Lite specs for the model and rollout pages: aliases over time, estimates per
slice with their intervals, and differences from a baseline."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from prodml.domain.registry import AliasMove

MAX_POINTS = 2000  # estimates drawn; a suite with more slices shows the first


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def alias_timeline(moves: Sequence[AliasMove], until: datetime) -> dict[str, Any]:
    """One lane per alias: which version it named from each move to the next (to
    ``until`` for the last), forced moves marked with a red triangle."""
    spans: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    last: dict[str, AliasMove] = {}
    for move in [m for m in moves if m.at <= until]:
        if move.alias in last:
            spans.append(_span(last[move.alias], move.at))
        last[move.alias] = move
        if move.forced:
            marks.append(
                {
                    "alias": move.alias,
                    "at": move.at,
                    "version": _label(move),
                    "by": move.actor,
                    "why": move.reason or "",
                    "kind": "forced",
                }
            )
    spans.extend(_span(move, until) for move in last.values())
    spans = [span for span in spans if span["version"] != "removed"]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "width": "container",
        "autosize": {"type": "fit-x", "contains": "padding"},
        "height": 28 * max(1, len({span["alias"] for span in spans})),
        "layer": [
            {
                "data": {"values": spans},
                "mark": {"type": "bar", "cornerRadius": 2, "opacity": 0.85},
                "encoding": {
                    "y": {"field": "alias", "type": "nominal", "title": None},
                    "x": {"field": "from", "type": "temporal", "title": None},
                    "x2": {"field": "to"},
                    "color": {"field": "version", "type": "nominal", "legend": None},
                    "tooltip": [
                        {"field": "alias"},
                        {"field": "version"},
                        {"field": "from", "type": "temporal", "format": "%Y-%m-%d %H:%M"},
                        {"field": "by"},
                        {"field": "why"},
                        {"field": "verdict"},
                    ],
                },
            },
            {
                "data": {"values": spans},
                "mark": {"type": "text", "align": "left", "dx": 4, "color": "white"},
                "encoding": {
                    "y": {"field": "alias", "type": "nominal"},
                    "x": {"field": "from", "type": "temporal"},
                    "text": {"field": "version"},
                },
            },
            {
                "data": {"values": marks},
                "mark": {
                    "type": "point",
                    "shape": "triangle-down",
                    "size": 120,
                    "filled": True,
                    "color": "#b3261e",
                    "yOffset": -12,
                },
                "encoding": {
                    "y": {"field": "alias", "type": "nominal"},
                    "x": {"field": "at", "type": "temporal"},
                    "tooltip": [
                        {"field": "kind"},
                        {"field": "version"},
                        {"field": "by"},
                        {"field": "why"},
                    ],
                },
            },
        ],
    }


def _label(move: AliasMove) -> str:
    return "removed" if move.version is None else f"v{move.version}"


def _span(move: AliasMove, end: datetime) -> dict[str, Any]:
    return {
        "alias": move.alias,
        "version": _label(move),
        "from": move.at,
        "to": end,
        "by": move.actor,
        "why": move.reason or "",
        "verdict": move.verdict or "",
    }


def estimate_rows(scores: Iterable[dict[str, Any]], side: str) -> list[dict[str, Any]]:
    """Stored scores (valset, slice, metric, estimate) as chart rows for ``side``."""
    rows = []
    for score in scores:
        estimate = score.get("estimate") or {}
        value = _finite(estimate.get("value"))
        if value is None:
            continue
        rows.append(
            {
                "side": side,
                "metric": str(score.get("metric")),
                "slice": str(score.get("slice")),
                "valset": str(score.get("valset")),
                "value": value,
                "low": _finite(estimate.get("low")) or value,
                "high": _finite(estimate.get("high")) or value,
                "rows": estimate.get("rows"),
            }
        )
    return rows[:MAX_POINTS]


def intervals(rows: list[dict[str, Any]], title: str = "") -> dict[str, Any]:
    """Each metric a panel, each slice a row: the estimate and its interval, one colour
    per side (a version) when there are several."""
    encoding_y = {"field": "slice", "type": "nominal", "title": None}
    color = {"field": "side", "type": "nominal", "title": None}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": title,
        "data": {"values": rows},
        "facet": {"column": {"field": "metric", "type": "nominal", "title": None}},
        "resolve": {"scale": {"x": "independent"}},
        "spec": {
            "width": 220,
            "height": {"step": 18},
            "layer": [
                {
                    "mark": {"type": "rule"},
                    "encoding": {
                        "y": encoding_y,
                        "yOffset": {"field": "side"},
                        "x": {
                            "field": "low",
                            "type": "quantitative",
                            "title": None,
                            "scale": {"zero": False},
                        },
                        "x2": {"field": "high"},
                        "color": color,
                    },
                },
                {
                    "mark": {"type": "point", "filled": True},
                    "encoding": {
                        "y": encoding_y,
                        "yOffset": {"field": "side"},
                        "x": {"field": "value", "type": "quantitative"},
                        "color": color,
                        "tooltip": [
                            {"field": "side"},
                            {"field": "valset"},
                            {"field": "slice"},
                            {"field": "value", "format": ".4g"},
                            {"field": "low", "format": ".4g"},
                            {"field": "high", "format": ".4g"},
                            {"field": "rows"},
                        ],
                    },
                },
            ],
        },
    }
