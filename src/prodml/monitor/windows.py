"""Windows of the prediction log: which are due, and what one holds.

A window ``[start, end)`` of a model is read with one DuckDB scan of the day
folders it spans: the watched inputs and the prediction as an Arrow table (to be
profiled), and the operating figures (failures, fallbacks, latency, versions
served, and rows per gateway process, so that one broken replica shows)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from prodml.domain.monitoring import at
from prodml.monitor.spec import MonitorSpec
from prodml.predictions import query, segment_spans
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

PREDICTION = "prediction"


@dataclass
class Window:
    start: float
    end: float
    rows: int
    inputs: pa.Table | None  # the watched inputs and the prediction; None without traffic
    stats: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def due(
    spec: MonitorSpec, last: float | None, first_logged: float | None, now: float
) -> list[float]:
    """Starts of the windows that have closed (and settled) since ``last``."""
    if last is not None:
        start = last + spec.window
    elif first_logged is not None:
        start = math.floor(first_logged / spec.window) * spec.window
        if spec.since is not None and spec.since > start:
            start = math.ceil(spec.since / spec.window) * spec.window
    else:
        return []
    starts = []
    while start + spec.window + spec.settle <= now:
        starts.append(start)
        start += spec.window
    return starts


def first_logged(folder: LogFiles | Path, model: str) -> float | None:
    """When ``model``'s earliest logged row was served (epoch seconds), from the footers
    of its first day's files (read whole only when a footer has no time statistics)."""
    files = query.prediction_files(folder, model)
    if not files:
        return None
    place = open_log_files(folder)
    first_day = [f for f in files if f.rsplit("/", 1)[0] == files[0].rsplit("/", 1)[0]]
    place.footers([place.key_of(f) for f in first_day])
    spans = [segment_spans.time_span(place, f) for f in first_day]
    if all(span is not None for span in spans):
        return min(span[0] for span in spans if span is not None)
    connection = duckdb.connect()
    try:
        value = connection.execute(
            "SELECT epoch(min(ts)) FROM read_parquet(?, union_by_name=true)",
            [place.local_paths(first_day)],
        ).fetchone()
    finally:
        connection.close()
    return None if value is None or value[0] is None else float(value[0])


def read(folder: LogFiles | Path, spec: MonitorSpec, start: float, end: float) -> Window:
    connection = query.connect(
        folder, spec.model, at(start), at(end + spec.settle) + timedelta(minutes=5),
        filename=True, between=(start, end),
    )  # fmt: skip
    try:
        where = "model = $model AND ts >= to_timestamp($start) AND ts < to_timestamp($end)"
        params = {"model": spec.model, "start": start, "end": end}
        stats = _stats(connection, where, params)
        if not stats["rows"]:
            return Window(start, end, 0, None, stats, ["no traffic in this window"])
        inputs = connection.sql(
            f"SELECT unnest(inputs), output AS {PREDICTION}_ FROM predictions WHERE {where}",
            params=params,
        ).to_arrow_table()
    finally:
        connection.close()
    return _watched(spec, start, end, stats, inputs)


def _watched(
    spec: MonitorSpec, start: float, end: float, stats: dict[str, Any], table: pa.Table
) -> Window:
    present = [c for c in table.column_names if c != f"{PREDICTION}_"]
    notes = []
    vanished = [c for c in spec.features if c not in present]
    if vanished:
        notes.append(
            f"the monitor watches {', '.join(vanished)}, which this window's log does not "
            "hold: the inputs changed, or the spec names a column the model never took. "
            "Fix the features list: prodml monitor set MODEL SPEC.yaml"
        )
    watched = [c for c in (spec.features or present) if c in present and c not in spec.ignore]
    name = PREDICTION if PREDICTION not in watched else f"model_{PREDICTION}"
    columns = [table.column(c) for c in watched] + [table.column(f"{PREDICTION}_")]
    inputs = pa.table(columns, names=[*watched, name])
    return Window(start, end, table.num_rows, inputs, stats, notes)


def _stats(
    connection: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any]
) -> dict[str, Any]:
    total = connection.execute(
        "SELECT count(*), avg((status <> 'ok')::INT), avg((fallback IS NOT NULL)::INT), "
        "quantile_cont(latency_ms, 0.5) FILTER (status = 'ok'), "
        "quantile_cont(latency_ms, 0.99) FILTER (status = 'ok'), "
        f"count(*) FILTER (status = 'ok') FROM predictions WHERE {where}",
        params,
    ).fetchone()
    assert total is not None
    rows, failures, fallbacks, p50, p99, answered = total
    stats: dict[str, Any] = {"rows": int(rows), "answered": int(answered or 0)}
    if not rows:
        return stats
    stats.update(failure_rate=failures, fallback_rate=fallbacks, p50_ms=p50, p99_ms=p99)
    versions = connection.execute(
        "SELECT version, count(*), avg((status <> 'ok')::INT), quantile_cont(latency_ms, 0.99) "
        f"FROM predictions WHERE {where} GROUP BY version ORDER BY 2 DESC",
        params,
    ).fetchall()
    stats["versions"] = [
        {"version": v, "rows": n, "failure_rate": f, "p99_ms": p} for v, n, f, p in versions
    ]
    sources = connection.execute(
        "SELECT writer AS source, count(*), "
        f"avg((status <> 'ok')::INT) FROM predictions WHERE {where} GROUP BY 1 ORDER BY 2 DESC",
        params,
    ).fetchall()
    stats["sources"] = [{"process": s, "rows": n, "failure_rate": f} for s, n, f in sources]
    return stats
