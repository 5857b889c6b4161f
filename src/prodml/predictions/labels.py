"""Ground truth that arrives after the prediction, joined by request id.

``ingest`` keeps the labels whose request ids are in the log, as a label segment
with the lag between prediction and label; labels for unknown ids are counted and
named, never stored; a request labelled again keeps its latest label.

A request id is the client's (``x-request-id``) and may have been sent more than
once. A label whose id names several logged rows is applied to every one of them
(the ``labelled`` view joins by request id), and the report counts and names such
ids so that the client can be told to send unique ones; each row also has a
``row_id`` of the gateway's own, which is unique."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from prodml.errors import InvalidInputError
from prodml.predictions import query
from prodml.predictions.segments import table_of, write_segment
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

SHOWN = 5


@dataclass(frozen=True)
class LabelReport:
    rows: int
    matched: int
    unknown: int
    repeated_in_file: int
    relabelled: int
    lag_median_s: float | None
    lag_p90_s: float | None
    unknown_examples: list[str] = field(default_factory=list)
    segment: str | None = None
    ambiguous: int = 0  # stored labels whose id names more than one logged row
    ambiguous_rows: int = 0  # the logged rows those labels apply to
    ambiguous_examples: list[str] = field(default_factory=list)


def ingest(
    log: LogFiles | Path,
    table: pa.Table,
    key: str = "request_id",
    label: str = "label",
    at: str | None = None,
    source: str = "",
) -> LabelReport:
    """Store the labels in ``table`` (column ``key`` names the request, ``label`` the
    truth, ``at`` optionally when it became known; else now)."""
    for role, name in (("--key", key), ("--label", label), ("--time", at)):
        if name is not None and name not in table.column_names:
            raise InvalidInputError(
                f"The labels have no column {name!r} (given as {role}); they have: "
                f"{', '.join(table.column_names)}."
            )
    keys = [None if v is None else str(v) for v in table.column(key).to_pylist()]
    values = table.column(label).to_pylist()
    now = time.time()
    times = _times(table, at, now)
    latest: dict[str, tuple[Any, float]] = {}
    for request_id, value, when in zip(keys, values, times, strict=True):
        if request_id is not None and value is not None:
            latest[request_id] = (value, when)
    repeated = sum(1 for k in keys if k is not None) - len(latest)
    files = open_log_files(log)
    known = _predicted(files, list(latest))
    unknown = [k for k in latest if k not in known]
    rows = [
        {
            "request_id": request_id,
            "model": known[request_id][0],
            "label": value,
            "labelled_at": datetime.fromtimestamp(when, UTC),
            "ingested_at": datetime.fromtimestamp(now, UTC),
            "lag_seconds": max(0.0, when - known[request_id][1]),
            "source": source,
        }
        for request_id, (value, when) in latest.items()
        if request_id in known
    ]
    segment = None
    if rows:
        segment = write_segment(files, query.LABELS, table_of(rows, ("label",)))
    lags = sorted(row["lag_seconds"] for row in rows)
    shared = [k for k in latest if k in known and known[k][3] > 1]
    return LabelReport(
        rows=table.num_rows,
        matched=len(rows),
        unknown=len(unknown),
        repeated_in_file=repeated,
        relabelled=sum(1 for k, (_, _, seen, _) in known.items() if seen and k in latest),
        lag_median_s=lags[len(lags) // 2] if lags else None,
        lag_p90_s=lags[min(len(lags) - 1, int(len(lags) * 0.9))] if lags else None,
        unknown_examples=unknown[:SHOWN],
        segment=segment,
        ambiguous=len(shared),
        ambiguous_rows=sum(known[k][3] for k in shared),
        ambiguous_examples=shared[:SHOWN],
    )


def _times(table: pa.Table, column: str | None, now: float) -> list[float]:
    if column is None:
        return [now] * table.num_rows
    values = table.column(column)
    if not pa.types.is_timestamp(values.type):
        try:
            values = values.cast(pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidInputError(
                f"Label time column {column!r} holds {values.type}; give ISO times."
            ) from None
    return [now if v is None else v.timestamp() for v in values.to_pylist()]


def _predicted(files: LogFiles, keys: list[str]) -> dict[str, tuple[str, float, bool, int]]:
    """For each logged request id among ``keys``: its model, time, whether it was
    labelled before and how many logged rows carry it."""
    if not keys:
        return {}
    connection = query.connect(files)
    try:
        connection.register("wanted", pa.table({"request_id": keys}))
        found = connection.execute(
            "SELECT p.request_id, any_value(p.model), epoch(min(p.ts)), "
            "bool_or(l.request_id IS NOT NULL), count(*) FROM predictions p "
            "JOIN wanted USING (request_id) LEFT JOIN labels l USING (request_id) "
            "GROUP BY p.request_id"
        ).fetchall()
    finally:
        connection.close()
    return {row[0]: (row[1], float(row[2]), bool(row[3]), int(row[4])) for row in found}
