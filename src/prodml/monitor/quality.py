"""Label metrics of one window, per slice, with the labels known at a given time.

Labels arrive late; a window's labels are judged once ``labels.wait`` has passed
since it closed, on the labels that had arrived by then (``labelled_at``), so a
replay of the past sees what the on-call engineer would have seen. Slices are the
whole window, the spec's named SQL conditions over the inputs, and one slice per
frequent value of each ``slice_by`` column."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from prodml.domain.monitoring import at
from prodml.monitor.spec import MonitorSpec
from prodml.predictions import query
from prodml.sql_text import identifier
from prodml.stores.log_files import LogFiles

_METRIC_SQL = {
    "accuracy": "avg((output::VARCHAR = label::VARCHAR)::INT)",
    "error_rate": "avg((output::VARCHAR <> label::VARCHAR)::INT)",
    "mae": "avg(abs(output::DOUBLE - label::DOUBLE))",
    "rmse": "sqrt(avg(power(output::DOUBLE - label::DOUBLE, 2)))",
}


def read(
    folder: LogFiles | Path, spec: MonitorSpec, start: float, end: float, now: float
) -> dict[str, Any]:
    """The window's labelled rows summarised: count, label lag, metric per slice, notes."""
    connection = query.connect(
        folder, spec.model, at(start), at(end) + timedelta(minutes=5), between=(start, end)
    )
    try:
        connection.execute(
            "CREATE TEMP TABLE rows AS SELECT unnest(inputs), output, label, lag_seconds "
            "FROM labelled WHERE model = $model AND ts >= to_timestamp($start) "
            "AND ts < to_timestamp($end) AND labelled_at <= to_timestamp($now)",
            {"model": spec.model, "start": start, "end": end, "now": now},
        )
        return _summary(connection, spec)
    finally:
        connection.close()


def _summary(connection: duckdb.DuckDBPyConnection, spec: MonitorSpec) -> dict[str, Any]:
    counted = connection.execute(
        "SELECT count(*), median(lag_seconds), quantile_cont(lag_seconds, 0.9) FROM rows"
    ).fetchone()
    assert counted is not None
    labelled, lag_median, lag_p90 = counted
    metric = spec.labels.metric or _default_metric(connection)
    stats: dict[str, Any] = {
        "labelled": int(labelled),
        "lag_median_s": lag_median,
        "lag_p90_s": lag_p90,
        "metric": metric,
        "slices": {},
        "notes": [],
    }
    if not labelled:
        stats["notes"].append("no labels for this window arrived in time")
        return stats
    conditions: dict[str, tuple[str, list[Any]]] = {"all": ("true", [])}
    conditions.update({name: (where, []) for name, where in spec.labels.slices.items()})
    columns = {d[0] for d in connection.execute("SELECT * FROM rows LIMIT 0").description}
    for column in spec.labels.slice_by:
        if column not in columns:
            stats["notes"].append(f"slice_by column {column!r} is not among the logged inputs")
            continue
        conditions.update(_frequent(connection, column, spec.labels.top))
    for name, (condition, values) in conditions.items():
        try:
            value = connection.execute(
                f"SELECT count(*), {_METRIC_SQL[metric]} FROM rows WHERE {condition}", values
            ).fetchone()
        except duckdb.Error as error:
            stats["notes"].append(f"slice {name!r} failed: {str(error).splitlines()[0]}")
            continue
        assert value is not None
        if value[0] and value[1] is not None and math.isfinite(value[1]):
            stats["slices"][name] = {"n": int(value[0]), "value": float(value[1])}
    return stats


def _frequent(
    connection: duckdb.DuckDBPyConnection, column: str, top: int
) -> dict[str, tuple[str, list[Any]]]:
    """A slice per frequent value of ``column``: its condition, with the value bound."""
    quoted = identifier(column)
    values = connection.execute(
        f"SELECT {quoted} FROM rows WHERE {quoted} IS NOT NULL GROUP BY 1 "
        "ORDER BY count(*) DESC, 1 LIMIT ?",
        [top],
    ).fetchall()
    return {f"{column}={v[0]}": (f"{quoted} = ?", [v[0]]) for v in values}


def _default_metric(connection: duckdb.DuckDBPyConnection) -> str:
    """Accuracy when labels are classes (text, or at most 20 whole numbers); else MAE."""
    row = connection.execute(
        "SELECT count(DISTINCT label::VARCHAR), "
        "bool_and(TRY_CAST(label::VARCHAR AS DOUBLE) IS NOT NULL), "
        "bool_and(TRY_CAST(label::VARCHAR AS DOUBLE) = round(TRY_CAST(label::VARCHAR AS DOUBLE))) "
        "FROM rows"
    ).fetchone()
    assert row is not None
    distinct, numeric, whole = row
    return "mae" if numeric and not (whole and distinct <= 20) else "accuracy"


def pooled(windows: list[dict[str, Any]], metric: str) -> tuple[float, int] | None:
    """The metric over several windows' ``all`` slices, weighted by their labels."""
    parts = [w["slices"]["all"] for w in windows if "all" in w.get("slices", {})]
    size = sum(p["n"] for p in parts)
    if not size:
        return None
    if metric == "rmse":
        return math.sqrt(sum(p["value"] ** 2 * p["n"] for p in parts) / size), size
    return sum(p["value"] * p["n"] for p in parts) / size, size
