"""Compaction of the prediction log: the small segments of each hour merged into a
few big files, beside running gateways and readers, on a local folder or an object
store.

A gateway writes a segment every second while traffic flows, and every read of the
log pays a cost per file (on an object store, a request or more). :func:`compact`
merges, in each day folder, the segments written (by their files' time) more than
``older_than`` seconds ago:

- One merged file holds rows of one hour (by the names' time), one kind (served, or
  late ``shadow-`` answers) and one Arrow schema, from every writer, so that the hour
  and the kind still read from its name (a listing of an hour is one name prefix;
  ``query.merge_group``: a compacted file alone in its group replaces nothing listed,
  and a reader skips its footer), no column changes type, and a day of many gateways
  is a file an hour, not one an hour and gateway (on an object store, a request each).
  It is named like a segment, ``<kind><HHMMSS>-all-<random>.parquet``
  (``query.EVERY_WRITER``), with a random part that starts with ``query.COMPACTED``;
  each served or shadow row keeps its writer (``<host>.<pid>``) in the column
  ``layout.WRITER``, so a monitor still counts rows per gateway process (no reader
  asks who labelled). Its rows are sorted by time, in row groups of :data:`ROW_GROUP`
  rows (DuckDB skips a group by its time statistics), at most :data:`MAX_ROWS` rows a
  file, and no file spans a pause of :data:`PAUSE` in which no writer logged rows of
  its schema. Files compacted before compaction merged every writer (named by one
  writer) merge like segments; those from before it was hourly (named by a pid alone)
  hold other hours' rows and are left as they are.
- Its footer names every file it replaces (key ``query.REPLACES``) and when it was
  made (``query.CREATED``), and the one listing of the log's files
  (``query.live_files``) leaves the replaced ones out: a listing taken before, during
  or after a compaction counts every row once.
- A replaced file is deleted only once the file replacing it is ``grace`` seconds old
  (a reader that listed it before may still be reading it): each run deletes what
  earlier runs replaced that long ago.
- A compaction claims each day folder it works in (a lock on a local folder, an object
  created only if absent on an object store); another one finds the folder claimed and
  skips it. Should two still merge the same files (a claim lapsed), the listing keeps
  the first file made and leaves the other out, and the next run deletes it. A file
  appears whole or not at all, so a kill -9 at any point leaves a log that reads
  correctly; the next run tidies what it left.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prodml.errors import ProdmlError
from prodml.predictions import query, segment_spans
from prodml.predictions.layout import WRITER, folder_of
from prodml.stores.log_files import Entry, LogFiles
from prodml.stores.log_places import open_log_files

MAX_ROWS = 1_000_000  # rows in one compacted file
ROW_GROUP = 65_536  # rows in one row group
FULL = MAX_ROWS // 2  # a file this big is left as it is, never merged again
# A run of segments is cut where no writer logged rows of a schema for this long: a
# monitor window reads the files with rows in it, and a file spanning a longer pause
# would bring its columns (all empty) into the windows of the pause.
PAUSE = 60.0
LOCK = ".compaction.lock"  # in each day folder; hidden, so no reader lists it
WORKING = ".compacting"  # the suffix of a compacted file being written (local folders)
_ORDER = ("ts", "ingested_at", "labelled_at")  # the time a file's rows are sorted by
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")  # a day folder's name


@dataclass(frozen=True)
class CompactionReport:
    merged: int = 0  # segments merged into compacted files
    written: int = 0  # compacted files written
    rows: int = 0  # rows in the merged segments, each now in a compacted file
    bytes_before: int = 0  # size of the merged segments
    bytes_after: int = 0  # size of the compacted files written
    deleted: int = 0  # replaced files deleted, their compacted file past its grace
    folders: int = 0  # day folders looked at
    busy: tuple[str, ...] = field(default=())  # day folders another compaction held

    def __add__(self, other: CompactionReport) -> CompactionReport:
        return CompactionReport(
            merged=self.merged + other.merged,
            written=self.written + other.written,
            rows=self.rows + other.rows,
            bytes_before=self.bytes_before + other.bytes_before,
            bytes_after=self.bytes_after + other.bytes_after,
            deleted=self.deleted + other.deleted,
            folders=self.folders + other.folders,
            busy=self.busy + other.busy,
        )


@dataclass(frozen=True)
class _Segment:
    key: str
    name: str
    kind: str
    stamp: str
    writer: str
    rows: int
    size: int
    span: tuple[float, float] | None  # its earliest and latest ``ts``; None for labels


def compact(
    log: LogFiles | Path,
    model: str | None = None,
    older_than: float = 600.0,
    grace: float = 600.0,
    now: float | None = None,
) -> CompactionReport:
    """Merge the small segments of each day folder of ``model`` (or of every model and
    the labels) written more than ``older_than`` seconds before ``now``, and delete the
    files replaced by a compacted file more than ``grace`` seconds old."""
    files = open_log_files(log)
    report = CompactionReport()
    for day in day_folders(files, model):
        report += _compact_day(files, day, older_than, grace, now)
    return report


def day_folders(log: LogFiles | Path, model: str | None = None) -> list[str]:
    """The day folders (keys) of ``model``'s segments, or of every model's and the
    labels' (never the quarantine's: its rows are JSON lines kept as they came); a
    folder not named for a day (``YYYY-MM-DD``, e.g. a copy kept by hand) is left as it is."""
    files = open_log_files(log)
    if model is not None:
        models = [folder_of(model)]
    else:
        models = [m for m in files.folders("") if m[:1] != "_"] + [query.LABELS]
    return sorted(f"{m}/{day}" for m in models for day in files.folders(m) if DAY.match(day))


def _compact_day(
    files: LogFiles, day: str, older_than: float, grace: float, now: float | None
) -> CompactionReport:
    with files.claim(f"{day}/{LOCK}") as held:
        if not held:
            return CompactionReport(folders=1, busy=(files.path(day),))
        _tidy(files, day)
        report = CompactionReport(folders=1)
        clock = time.time() if now is None else now
        for chunk in _chunks(files, day, clock - older_than):
            report += _merge(files, day, chunk)
        deleted = _delete_replaced(files, day, clock - grace)
        return report + CompactionReport(deleted=deleted)


def _tidy(files: LogFiles, day: str) -> None:
    """Remove what a killed compaction left half-written in a local folder (under the
    claim, nothing else writes these names; an object store has no half-written file)."""
    if not files.remote:
        folder = Path(files.path(day))
        for leftover in folder.glob(f".*{WORKING}"):
            leftover.unlink(missing_ok=True)


def _chunks(files: LogFiles, day: str, written_before: float) -> list[list[_Segment]]:
    """Runs of segments to merge: each of one hour, kind and schema (of every writer), in
    time order, at most :data:`MAX_ROWS` rows and at least two files."""
    groups: dict[tuple[tuple[str, str] | None, bytes], list[_Segment]] = {}
    entries = query.live_files(files, day)
    files.footers([e.key for e in entries if e.modified <= written_before])
    for entry in entries:
        found = _candidate(files, entry, written_before)
        if found is not None:
            segment, schema = found
            key = (query.merge_group(segment.name), schema)  # readers rely on it
            groups.setdefault(key, []).append(segment)
    runs = [run for group in groups.values() for run in _runs(group)]
    return [run for run in runs if len(run) > 1]


def _runs(group: list[_Segment]) -> list[list[_Segment]]:
    runs: list[list[_Segment]] = [[]]
    rows, latest = 0, float("-inf")
    for segment in sorted(group, key=_order):
        paused = segment.span is not None and segment.span[0] - latest > PAUSE
        if runs[-1] and (rows + segment.rows > MAX_ROWS or paused):
            runs.append([])
            rows = 0
        runs[-1].append(segment)
        rows += segment.rows
        latest = max(latest, segment.span[1]) if segment.span else latest
    return runs


def _order(segment: _Segment) -> tuple[float, str]:
    return (segment.span[0] if segment.span else 0.0, segment.name.removeprefix(segment.kind))


def _candidate(
    files: LogFiles, entry: Entry, written_before: float
) -> tuple[_Segment, bytes] | None:
    """A segment worth merging and its schema (less the writer column); None for a file
    too new, already big, unreadable (left for a query to report), not named like a
    segment, or compacted before compaction was hourly (rows of other hours)."""
    named = query.NAME.match(entry.name)
    if named is None or entry.modified > written_before:
        return None
    if query.is_compacted(entry.name) and not query.is_hourly(entry.name):
        return None
    try:
        footer = files.footer(entry.key)
        schema = footer.schema.to_arrow_schema().remove_metadata()
    except (OSError, ValueError, pa.ArrowException, ProdmlError):
        return None
    if WRITER in schema.names:
        schema = schema.remove(schema.get_field_index(WRITER))
    if footer.num_rows >= FULL:
        return None
    kind, stamp, writer = named["kind"] or "", named["stamp"], named["writer"]
    span = segment_spans.time_span(files, files.path(entry.key))
    segment = _Segment(
        entry.key, entry.name, kind, stamp, writer, footer.num_rows, entry.size, span
    )
    return segment, schema.serialize().to_pybytes()


def _merge(files: LogFiles, day: str, chunk: list[_Segment]) -> CompactionReport:
    """One compacted file with the rows of ``chunk``, naming every file it replaces:
    the segments, and what those that are compacted files replace, so that the new file
    alone keeps them out of a listing once the older compacted files are gone."""
    try:
        tables = [_read(files, segment.key) for segment in chunk]
        if not day.startswith(f"{query.LABELS}/"):
            tables = [_with_writer(t, s.writer) for t, s in zip(tables, chunk, strict=True)]
        replaced = {segment.name for segment in chunk}
        for segment in chunk:
            if query.is_compacted(segment.name):
                replaced |= query.replaced_names(files, files.path(segment.key))
    except FileNotFoundError:  # removed by hand since listed: left for the next run
        return CompactionReport()
    table = pa.concat_tables(tables)
    order = next((name for name in _ORDER if name in table.column_names), None)
    if order is not None:
        table = table.sort_by(order)
    metadata = tables[0].schema.metadata or {}
    kept = {k: v for k, v in metadata.items() if k not in (query.REPLACES, query.CREATED)}
    names = json.dumps(sorted(replaced)).encode()
    made = repr(time.time()).encode()
    table = table.replace_schema_metadata({**kept, query.REPLACES: names, query.CREATED: made})
    body = io.BytesIO()
    pq.write_table(table, body, compression="zstd", row_group_size=ROW_GROUP)
    data = body.getvalue()
    files.write(_target(day, chunk[0]), lambda handle: handle.write(data))
    return CompactionReport(
        merged=len(chunk),
        written=1,
        rows=sum(segment.rows for segment in chunk),
        bytes_before=sum(segment.size for segment in chunk),
        bytes_after=len(data),
    )


def _read(files: LogFiles, key: str) -> pa.Table:
    data = files.read(key) if files.remote else None
    source = pa.BufferReader(data) if data is not None else files.path(key)
    with pq.ParquetFile(source) as parquet:
        return parquet.read()


def _with_writer(table: pa.Table, writer: str) -> pa.Table:
    """``table`` with each row's writer as its last column: as its column has it (a file
    of every writer), else the one its name gives."""
    index = table.schema.get_field_index(WRITER)
    if index < 0:
        return table.append_column(WRITER, pa.repeat(pa.scalar(writer), table.num_rows))
    return table.remove_column(index).append_column(WRITER, table.column(index))


def _target(day: str, first: _Segment) -> str:
    """A new name for the compacted file: the first segment's kind and time."""
    random = f"{query.COMPACTED}{uuid.uuid4().hex[:10]}"
    return f"{day}/{first.kind}{first.stamp}-{query.EVERY_WRITER}-{random}.parquet"


def _delete_replaced(files: LogFiles, day: str, replaced_before: float) -> int:
    """Delete the files that compacted files written before ``replaced_before`` replace,
    and the compacted files left out as duplicates that long ago."""
    entries = [e for e in files.files(day) if e.name.endswith(".parquet")]
    written = {e.name: e.modified for e in entries}
    in_force, duplicates = query.resolve(files, [e for e in entries if query.is_compacted(e.name)])
    doomed = {d for d in duplicates if written[d] <= replaced_before}
    for name, names in in_force.items():
        if written[name] <= replaced_before:
            doomed |= names
    keys = [f"{day}/{name}" for name in sorted(doomed & set(written)) if query.NAME.match(name)]
    return files.delete(keys)
