"""The value of each SLO at the end of a window, over the SLO's own span.

A span no longer than the window is the window itself; a longer one pools the
stored windows it covers (rates and label metrics weighted by their rows) or, for
latency quantiles, which do not pool, reads the log over the span once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prodml.client import Client
from prodml.domain.monitoring import at
from prodml.monitor import quality
from prodml.monitor.spec import MonitorSpec
from prodml.monitor.windows import Window
from prodml.predictions import query
from prodml.stores.log_files import LogFiles

QUANTILES = {"p50_ms": 0.5, "p99_ms": 0.99}


def traffic(
    folder: LogFiles | Path, spec: MonitorSpec, window: Window
) -> dict[str, tuple[float, int]]:
    values: dict[str, tuple[float, int]] = {}
    for slo in spec.slos:
        if slo.from_labels or not window.rows:
            continue
        if slo.over <= spec.window:
            value = window.stats.get(slo.metric)
            size = window.stats["answered" if slo.metric in QUANTILES else "rows"]
        elif slo.metric in QUANTILES:
            value, size = _quantile(folder, spec.model, window.end - slo.over, window.end,
                                    QUANTILES[slo.metric])  # fmt: skip
        else:
            value, size = _rate(folder, spec.model, window.end - slo.over, window.end, slo.metric)
        if value is not None and size:
            values[slo.name] = (float(value), int(size))
    return values


def labels(
    client: Client, spec: MonitorSpec, start: float, end: float, stats: dict[str, Any]
) -> dict[str, tuple[float, int]]:
    values: dict[str, tuple[float, int]] = {}
    for slo in spec.slos:
        if not slo.from_labels:
            continue
        windows = [stats]
        if slo.over > spec.window:
            past = client.metadata.windows(spec.model, "labels", before=start, since=end - slo.over)
            windows += [w.stats for w in past]
        same = [w for w in windows if w.get("metric") in (slo.metric, _pair(slo.metric))]
        pooled = quality.pooled(same, stats.get("metric", slo.metric))
        if pooled is None or pooled[1] < spec.labels.min_labels:
            continue
        value = pooled[0]
        if _pair(slo.metric) == stats.get("metric"):
            value = 1.0 - value
        values[slo.name] = (value, pooled[1])
    return values


def _pair(metric: str) -> str:
    return {"accuracy": "error_rate", "error_rate": "accuracy"}.get(metric, metric)


def _quantile(
    folder: LogFiles | Path, model: str, start: float, end: float, q: float
) -> tuple[float | None, int]:
    return _scan(folder, model, start, end, f"quantile_cont(latency_ms, {q})", "status = 'ok'")


def _rate(
    folder: LogFiles | Path, model: str, start: float, end: float, metric: str
) -> tuple[float | None, int]:
    condition = "status <> 'ok'" if metric == "failure_rate" else "fallback IS NOT NULL"
    return _scan(folder, model, start, end, f"avg(({condition})::INT)", "true")


def _scan(
    folder: LogFiles | Path, model: str, start: float, end: float, figure: str, where: str
) -> tuple[float | None, int]:
    """One figure over the log between ``start`` and ``end``, and the rows it is on."""
    connection = query.connect(
        folder, model, at(start), at(end) + timedelta(minutes=5), between=(start, end)
    )
    try:
        row = connection.execute(
            f"SELECT {figure}, count(*) FROM predictions WHERE {where} "
            "AND ts >= to_timestamp($1) AND ts < to_timestamp($2)",
            [start, end],
        ).fetchone()
    finally:
        connection.close()
    return (None, 0) if row is None else (row[0], int(row[1]))
