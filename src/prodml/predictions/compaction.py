"""Compaction of the prediction log: the small segments of a day folder merged into a
few big files, beside running gateways and readers.

A gateway writes a segment every second while traffic flows, and every read of the
log pays a cost per file. :func:`compact` merges, in each day folder, the segments
written (by their files' time) more than ``older_than`` seconds ago:

- One merged file holds rows of one kind (served, or late ``shadow-`` answers), one
  gateway process and one Arrow schema, so that the kind and the process still read
  from its name, and no column changes type (label files of every process merge: no
  reader asks which process labelled). It is named like a segment,
  ``<kind><HHMMSS>-<pid>-<random>.parquet``, with a random part that starts with
  ``query.COMPACTED``; its rows are sorted by time, in row groups of
  :data:`ROW_GROUP` rows (DuckDB skips a group by its time statistics), at most
  :data:`MAX_ROWS` rows a file, and no file spans a pause of :data:`PAUSE`.
- Its footer names every file it replaces (key ``query.REPLACES``), and the one
  listing of the log's files (``query.live_files``) leaves those out: a listing taken
  before, during or after a compaction counts every row once.
- A replaced file is deleted only once the file replacing it is ``grace`` seconds old
  (a reader that listed it before may still be reading it): each run deletes what
  earlier runs replaced that long ago.
- A compaction holds an exclusive lock on each day folder it works in; another one
  finds the folder held and skips it. Files are written to a hidden name, synced, then
  renamed, so a kill -9 at any point leaves a log that reads correctly; the next run
  tidies what it left.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prodml.predictions import query

MAX_ROWS = 1_000_000  # rows in one compacted file
ROW_GROUP = 65_536  # rows in one row group
FULL = MAX_ROWS // 2  # a file this big is left as it is, never merged again
# A run of segments is cut where a process logged no rows of a schema for this long: a
# monitor window reads the files with rows in it, and a file spanning a longer pause
# would bring its columns (all empty) into the windows of the pause.
PAUSE = 60.0
LOCK = ".compaction.lock"  # in each day folder; hidden, so no reader lists it
WORKING = ".compacting"  # the suffix of a compacted file being written
# The name of a segment (or of a compacted file): its kind, time, process and random part.
_SEGMENT = re.compile(r"^(?P<kind>[a-z]+-)?(?P<stamp>\d{6})-(?P<pid>\d+)-[0-9a-f]+\.parquet$")
_ORDER = ("ts", "ingested_at", "labelled_at")  # the time a file's rows are sorted by


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
    path: Path
    kind: str
    stamp: str
    pid: str
    rows: int
    size: int
    span: tuple[float, float] | None  # its earliest and latest ``ts``; None for labels


def compact(
    folder: Path,
    model: str | None = None,
    older_than: float = 600.0,
    grace: float = 600.0,
    now: float | None = None,
) -> CompactionReport:
    """Merge the small segments of each day folder of ``model`` (or of every model and
    the labels) written more than ``older_than`` seconds before ``now``, and delete the
    files replaced by a compacted file more than ``grace`` seconds old."""
    report = CompactionReport()
    for day in day_folders(folder, model):
        report += _compact_day(day, older_than, grace, now)
    return report


def day_folders(folder: Path, model: str | None = None) -> list[Path]:
    """The day folders of ``model``'s segments, or of every model's and the labels'
    (never the quarantine's: its rows are JSON lines kept as they came)."""
    if model is not None:
        models = [folder / model]
    else:
        models = [p for p in folder.glob("*") if p.name[:1] != "_"] + [folder / query.LABELS]
    return sorted(day for m in models for day in m.glob("*") if day.is_dir())


def _compact_day(day: Path, older_than: float, grace: float, now: float | None) -> CompactionReport:
    with _locked(day) as held:
        if not held:
            return CompactionReport(folders=1, busy=(str(day),))
        _tidy(day)
        report = CompactionReport(folders=1)
        written_before = (time.time() if now is None else now) - older_than
        for chunk in _chunks(day, written_before):
            report += _merge(day, chunk)
        deleted = _delete_replaced(day, (time.time() if now is None else now) - grace)
        return report + CompactionReport(deleted=deleted)


@contextmanager
def _locked(day: Path) -> Iterator[bool]:
    """Whether this process holds the day folder's lock (held for the ``with`` block)."""
    handle = os.open(day / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(handle)  # releases the lock


def _tidy(day: Path) -> None:
    """Remove what a killed compaction left half-written (under the lock, nothing else
    writes these names)."""
    for leftover in day.glob(f".*{WORKING}"):
        leftover.unlink(missing_ok=True)


def _chunks(day: Path, written_before: float) -> list[list[_Segment]]:
    """Runs of segments to merge: each of one kind, process and schema, in name (time)
    order, at most :data:`MAX_ROWS` rows and at least two files."""
    per_process = day.parent.name != query.LABELS
    groups: dict[tuple[str, str, bytes], list[_Segment]] = {}
    for path in query.live_files(day):
        found = _candidate(path, written_before)
        if found is not None:
            segment, schema = found
            process = segment.pid if per_process else ""
            groups.setdefault((segment.kind, process, schema), []).append(segment)
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
    return (segment.span[0] if segment.span else 0.0, segment.path.name.removeprefix(segment.kind))


def _candidate(path: Path, written_before: float) -> tuple[_Segment, bytes] | None:
    """A segment worth merging and its schema; None for a file too new, already big,
    unreadable (left for a query to report) or not named like a segment."""
    named = _SEGMENT.match(path.name)
    if named is None:
        return None
    try:
        status = path.stat()
        if status.st_mtime > written_before:
            return None
        footer = pq.read_metadata(path)
        schema = footer.schema.to_arrow_schema().remove_metadata()
    except (OSError, ValueError, pa.ArrowException):
        return None
    if footer.num_rows >= FULL:
        return None
    kind, stamp, pid = named["kind"] or "", named["stamp"], named["pid"]
    span = query.time_span(str(path))
    segment = _Segment(path, kind, stamp, pid, footer.num_rows, status.st_size, span)
    return segment, schema.serialize().to_pybytes()


def _merge(day: Path, chunk: list[_Segment]) -> CompactionReport:
    """One compacted file with the rows of ``chunk``, naming every file it replaces:
    the segments, and what those that are compacted files replace, so that the new file
    alone keeps them out of a listing once the older compacted files are gone."""
    try:
        tables = [_read(segment.path) for segment in chunk]
        replaced = {segment.path.name for segment in chunk}
        for segment in chunk:
            if query.is_compacted(segment.path.name):
                replaced |= query.replaced_names(segment.path)
    except FileNotFoundError:  # removed by hand since listed: left for the next run
        return CompactionReport()
    table = pa.concat_tables(tables)
    order = next((name for name in _ORDER if name in table.column_names), None)
    if order is not None:
        table = table.sort_by(order)
    kept = {k: v for k, v in (tables[0].schema.metadata or {}).items() if k != query.REPLACES}
    names = json.dumps(sorted(replaced)).encode()
    table = table.replace_schema_metadata({**kept, query.REPLACES: names})
    target = _write(_target(day, chunk[0]), table)
    return CompactionReport(
        merged=len(chunk),
        written=1,
        rows=sum(segment.rows for segment in chunk),
        bytes_before=sum(segment.size for segment in chunk),
        bytes_after=target.stat().st_size,
    )


def _read(path: Path) -> pa.Table:
    with pq.ParquetFile(path) as parquet:
        return parquet.read()


def _target(day: Path, first: _Segment) -> Path:
    """A free name for the compacted file: the first segment's kind, time and process."""
    while True:
        random = f"{query.COMPACTED}{uuid.uuid4().hex[:6]}"
        target = day / f"{first.kind}{first.stamp}-{first.pid}-{random}.parquet"
        if not target.exists():
            return target


def _write(target: Path, table: pa.Table) -> Path:
    """Write ``table`` under a hidden name, sync it, rename it into place, and sync the
    folder, so that the file is whole and in place before any source can be deleted."""
    working = target.with_name(f".{target.name}{WORKING}")
    with working.open("wb") as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(working, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return target


def _delete_replaced(day: Path, replaced_before: float) -> int:
    """Delete the files named by compacted files written before ``replaced_before``."""
    deleted = 0
    for path in day.glob("*.parquet"):
        if not query.is_compacted(path.name):
            continue
        try:
            if path.stat().st_mtime > replaced_before:
                continue
            names = query.replaced_names(path)
        except (OSError, ValueError, pa.ArrowException):
            continue  # deleted as replaced a moment ago, or unreadable
        for name in sorted(names):
            if _SEGMENT.match(name) and name != path.name:  # only segments of this folder
                try:
                    (day / name).unlink()
                    deleted += 1
                except FileNotFoundError:
                    pass
    return deleted
