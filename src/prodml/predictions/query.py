"""SQL over the prediction log with DuckDB: a ``predictions`` view over every
segment and a ``labels`` view over every ingested label file (the latest label per
request), and ``labelled`` joining the two.

The files are listed here and nowhere else. A compacted file (``compaction.py``) names
the files it replaces in its footer, and a listing leaves those out: taken before,
during or after a compaction, it counts every row once. Only compacted files' footers
are read for that, spotted by name (the random part of the name starts with
:data:`COMPACTED`).

Queries run sealed (``sql_text.seal``): they read those files and nothing else. The
log's column names and values come from requests, and generated queries name them; a
name that slipped past its quotes must not reach the host's files. People's own
queries run sealed too: many are pasted from an alert or a webhook rather than typed,
and the three views are all the command offers (the rows it returns go anywhere)."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from prodml.errors import InvalidInputError
from prodml.predictions.views import create_predictions
from prodml.sql_text import literal, one_select, seal

LABELS = "_labels"  # the folder of label segments, beside the models' folders
LABEL_SKEW = timedelta(days=1)  # a label filed on the day before its request (clocks differ)
# A compacted file is named like a segment, ``<kind><HHMMSS>-<pid>-<random>.parquet``,
# with a random part that starts with this. A gateway's segment starts so by chance once
# in 16.7 million; its footer is then read and names nothing.
COMPACTED = "c0a1e5"
REPLACES = b"prodml.replaces"  # footer key of a compacted file: the names it replaces
_COMPACTED_NAME = re.compile(rf"-\d+-{COMPACTED}[0-9a-f]*\.parquet$")

EMPTY_LABELS = """
SELECT NULL::VARCHAR AS request_id, NULL::VARCHAR AS model, NULL::DOUBLE AS label,
       NULL::TIMESTAMPTZ AS labelled_at, NULL::TIMESTAMPTZ AS ingested_at,
       NULL::DOUBLE AS lag_seconds, NULL::VARCHAR AS source
WHERE false
"""


def prediction_files(
    folder: Path,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[str]:
    """Segment files of one model (or all), from the day of ``since`` to that of ``until``."""
    # folders named "_..." hold labels and quarantined rows, never a model's segments
    models = [folder / model] if model else [p for p in folder.glob("*") if p.name[:1] != "_"]
    first = since.astimezone(UTC).strftime("%Y-%m-%d") if since else ""
    last = until.astimezone(UTC).strftime("%Y-%m-%d") if until else "9999"
    return sorted(
        str(path)
        for m in models
        for day in m.glob("*")
        if first <= day.name <= last
        for path in live_files(day)
    )


def live_files(day: Path) -> list[Path]:
    """The Parquet files of a day folder, less those a compacted file in it replaces."""
    kept: list[Path] = []
    replaced: set[str] = set()
    for path in day.glob("*.parquet"):
        if is_compacted(path.name):
            try:
                replaced.update(replaced_names(path))
            except FileNotFoundError:
                continue  # itself replaced, and deleted since the folder was listed
            except (OSError, ValueError, pa.ArrowException):
                pass  # unreadable: left in, for the query to report
        kept.append(path)
    return [path for path in kept if path.name not in replaced]


def is_compacted(name: str) -> bool:
    return _COMPACTED_NAME.search(name) is not None


def replaced_names(path: Path) -> frozenset[str]:
    """The names of the files a compacted file replaces, from its footer."""
    return _replaced(str(path))


@functools.lru_cache(maxsize=65_536)  # files never change once renamed into place
def _replaced(path: str) -> frozenset[str]:
    metadata = pq.read_metadata(path).metadata or {}
    names = json.loads(metadata.get(REPLACES, b"[]"))
    return frozenset(str(name) for name in names) if isinstance(names, list) else frozenset()


@functools.lru_cache(maxsize=262_144)  # segments never change once renamed into place
def time_span(path: str) -> tuple[float, float] | None:
    """The earliest and latest ``ts`` in a segment, from its footer (None: unknown)."""
    try:
        metadata = pq.read_metadata(path)
        column = metadata.schema.names.index("ts")
        lows, highs = [], []
        for group in range(metadata.num_row_groups):
            statistics = metadata.row_group(group).column(column).statistics
            if statistics is None or not statistics.has_min_max:
                return None
            lows.append(statistics.min.timestamp())
            highs.append(statistics.max.timestamp())
    except (OSError, ValueError, AttributeError, pa.ArrowException):
        return None
    return (min(lows), max(highs)) if lows else None


def _overlaps(span: tuple[float, float] | None, between: tuple[float, float]) -> bool:
    return span is None or (span[1] >= between[0] and span[0] < between[1])


def label_files(folder: Path, since: datetime | None = None) -> list[str]:
    """Label segments, in day folders of when they were ingested; with ``since`` (the
    earliest request asked about) only those ingested from the day before it on: a label
    comes after its request, so older files cannot hold one (and reading every label
    of a month to join a day's requests costs seconds)."""
    first = (since.astimezone(UTC) - LABEL_SKEW).strftime("%Y-%m-%d") if since else ""
    return sorted(
        str(path)
        for day in (folder / LABELS).glob("*")
        if day.name >= first
        for path in live_files(day)
    )


def connect(
    folder: Path,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    filename: bool = False,
    between: tuple[float, float] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the views ``predictions``, ``labels`` and ``labelled``
    (``since`` and ``until`` narrow ``predictions`` to the day folders between them,
    and ``since`` the labels to those ingested from the day before it;
    ``between`` to the segments holding rows in that span of epoch seconds, so that one
    segment's schema does not leak into windows it has no rows in; ``filename`` adds
    the segment each row came from). It reads those files and nothing else."""
    connection = duckdb.connect()
    files = prediction_files(folder, model, since, until)
    if between is not None:
        files = [f for f in files if _overlaps(time_span(f), between)]
    create_predictions(connection, files, filename)
    labels = label_files(folder, since)
    source = (
        f"SELECT * FROM read_parquet({literal(labels)}, union_by_name=true)"
        if labels
        else EMPTY_LABELS
    )
    connection.execute(
        "CREATE VIEW labels AS SELECT * EXCLUDE (rank) FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY request_id ORDER BY ingested_at DESC) AS rank FROM ({source})) "
        "WHERE rank = 1"
    )
    connection.execute(
        "CREATE VIEW labelled AS SELECT p.*, l.label, l.labelled_at, l.lag_seconds "
        "FROM predictions p JOIN labels l USING (request_id)"
    )
    seal(connection, [*files, *labels])
    return connection


def query(
    folder: Path,
    sql: str,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """Run ``sql`` (one SELECT) over the log (``predictions`` narrowed to ``model``'s
    segments from the day of ``since`` to that of ``until``, when given: a query about
    one window then opens a day's segments, not the whole log's); a mistake in it is
    reported with DuckDB's message."""
    connection = connect(folder, model, since, until)
    try:
        one_select(sql)
        return connection.sql(sql).to_arrow_table()
    except duckdb.PermissionException as error:
        first = str(error).splitlines()[0]
        raise InvalidInputError(
            f"The query failed: {first}. Queries over the log read only the log (tables "
            "predictions, labels, labelled); write the rows elsewhere from the result, "
            "e.g. prodml predictions query SQL --json."
        ) from None
    except duckdb.Error as error:
        first = str(error).splitlines()[0]
        raise InvalidInputError(
            f"The query failed: {first}. Tables: predictions, labels, labelled "
            "(see: prodml predictions query 'DESCRIBE predictions')."
        ) from None
    finally:
        connection.close()
