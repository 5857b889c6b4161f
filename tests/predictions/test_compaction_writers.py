"""Compaction of an hour that many gateways wrote: one file an hour and kind, whatever
the writers, and every row counted once before, during and after it (a late segment, two
compactions at once, per-writer files compacted before), on a local folder and on S3."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from log_rows import log_row

from prodml.monitor import windows
from prodml.monitor.spec import MonitorSpec
from prodml.predictions import compaction, query
from prodml.predictions.segments import table_of, write_segment
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

NOON = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAY = "m/2025-03-01"
HOSTS = ("gw_a", "gw_b", "gw_c")
COUNT = "SELECT count(*) AS n, count(DISTINCT row_id) AS d FROM predictions"


@pytest.fixture(params=["local", "s3"])
def log(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LogFiles]:
    monkeypatch.setenv("PRODML_HOST", "gw_a")  # set back after each test
    if request.param == "local":
        yield open_log_files(tmp_path / "predictions")
        return
    bucket = request.getfixturevalue("s3_bucket")
    yield open_log_files(f"s3://{bucket}/predictions", tmp_path / "cache")


def _segments(
    log: LogFiles, host: str, first: int, at: datetime, count: int = 3
) -> list[tuple[str, pa.Table]]:
    """``count`` segments of 5 rows from ``host``, 20 s apart from ``at``: each name
    and table."""
    os.environ["PRODML_HOST"] = host  # the writer in the names: <host>.<pid>
    written = []
    for n in range(count):
        moment = at + timedelta(seconds=20 * n)
        ids = [f"{host}-{first + 5 * n + i}" for i in range(5)]
        rows = [log_row(i, row_id=i, ts=moment, latency_ms=float(len(host))) for i in ids]
        table = table_of(rows, ("output",))
        path = write_segment(log, "m", table, at=moment.timestamp())
        written.append((path.rsplit("/", 1)[1], table))
    return written


def _hour(log: LogFiles, at: datetime = NOON, first: int = 0) -> list[tuple[str, pa.Table]]:
    """Segments of every host in the hour of ``at``, their times interleaved."""
    return [
        segment
        for number, host in enumerate(HOSTS)
        for segment in _segments(log, host, first, at + timedelta(seconds=5 * number))
    ]


def _count(log: LogFiles) -> dict[str, int]:
    (found,) = query.query(log, COUNT).to_pylist()
    return {"n": int(found["n"]), "d": int(found["d"])}


def _names(log: LogFiles) -> list[str]:
    return sorted(entry.name for entry in log.files(DAY))


def _writers(log: LogFiles) -> dict[str, int]:
    """Rows per writer in a monitor window over the hour, as an alert shows them."""
    spec = MonitorSpec(model="m", window=3600.0, settle=0.0)
    window = windows.read(log, spec, NOON.timestamp(), NOON.timestamp() + 3600)
    return {
        str(source["process"]).split(".")[0]: source["rows"] for source in window.stats["sources"]
    }


def test_every_writers_segments_of_an_hour_compact_into_one_file(log: LogFiles) -> None:
    _hour(log)
    _hour(log, NOON + timedelta(hours=1), first=100)
    before = _writers(log)

    report = compaction.compact(log, older_than=0.0, grace=0.0)
    compaction.compact(log, older_than=0.0, grace=0.0)  # the replaced segments deleted

    assert report.merged == 18 and report.written == 2 and report.rows == 90
    names = _names(log)
    assert len(names) == 2 and all(query.is_compacted(name) for name in names)
    assert [name[:2] for name in names] == ["12", "13"]
    assert all(query.NAME.match(name) for name in names)
    assert _count(log) == {"n": 90, "d": 90}
    assert _writers(log) == before == {"gw_a": 15, "gw_b": 15, "gw_c": 15}


def test_a_run_is_cut_only_where_no_writer_logged_for_a_minute(log: LogFiles) -> None:
    _segments(log, "gw_a", 0, NOON)  # 12:00:00 to 12:00:40
    _segments(log, "gw_b", 0, NOON + timedelta(seconds=80))  # gw_a silent 100 s meanwhile
    _segments(log, "gw_a", 50, NOON + timedelta(seconds=150))  # until 12:03:10
    _segments(log, "gw_c", 0, NOON + timedelta(minutes=10))  # every writer silent 7 min

    report = compaction.compact(log, older_than=0.0, grace=0.0)

    assert report.merged == 12 and report.written == 2
    compaction.compact(log, older_than=0.0, grace=0.0)
    rows = sorted(log.footer(f"{DAY}/{name}").num_rows for name in _names(log))
    assert rows == [15, 45] and _count(log) == {"n": 60, "d": 60}


def test_a_late_segment_of_one_writer_after_its_hour_was_compacted_counts_once(
    log: LogFiles,
) -> None:
    _hour(log)
    compaction.compact(log, older_than=0.0, grace=0.0)
    compaction.compact(log, older_than=0.0, grace=0.0)
    (compacted,) = _names(log)
    _segments(log, "gw_b", 50, NOON + timedelta(seconds=30), count=1)  # a flush held back

    assert len(_names(log)) == 2 and _count(log) == {"n": 50, "d": 50}
    again = compaction.compact(log, older_than=0.0, grace=3600.0)
    assert again.merged == 2 and again.written == 1
    assert _count(log) == {"n": 50, "d": 50}  # the new file beside both it replaces
    compaction.compact(log, older_than=0.0, grace=0.0)
    (latest,) = _names(log)
    assert latest != compacted and _count(log) == {"n": 50, "d": 50}
    assert _writers(log) == {"gw_a": 15, "gw_b": 20, "gw_c": 15}


def test_reads_between_the_compacted_files_write_and_the_sources_deletion_count_once(
    log: LogFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hour(log)
    _hour(log, NOON + timedelta(hours=1), first=100)
    seen: list[tuple[str, dict[str, int]]] = []
    write, delete = log.write, log.delete

    def written_then_read(key: str, body: Any) -> str:
        path = write(key, body)
        seen.append(("written", _count(log)))
        return path

    def read_then_deleted(keys: Any) -> int:
        seen.append(("deleting", _count(log)))
        return delete(keys)

    monkeypatch.setattr(log, "write", written_then_read)
    monkeypatch.setattr(log, "delete", read_then_deleted)
    compaction.compact(log, older_than=0.0, grace=0.0)
    compaction.compact(log, older_than=0.0, grace=0.0)

    moments = [moment for moment, _ in seen]
    assert moments.count("written") == 2 and moments[-1] == "deleting"  # one file an hour
    assert all(counted == {"n": 90, "d": 90} for _, counted in seen)
    assert len(_names(log)) == 2 and _count(log) == {"n": 90, "d": 90}


def test_two_compactions_racing_over_an_hour_count_each_row_once(log: LogFiles) -> None:
    """A claim that lapsed: one compaction merged the hour, another, which listed it
    after a late segment came, merged that too; the listing keeps the first made."""
    _hour(log)
    (first,) = compaction._chunks(log, DAY, float("inf"))
    _segments(log, "gw_c", 50, NOON + timedelta(minutes=1), count=1)
    (second,) = compaction._chunks(log, DAY, float("inf"))
    compaction._merge(log, DAY, first)
    compaction._merge(log, DAY, second)  # unaware of the first

    assert len(first) == 9 and len(second) == 10
    assert _count(log) == {"n": 50, "d": 50}
    compaction.compact(log, older_than=0.0, grace=3600.0)
    assert _count(log) == {"n": 50, "d": 50}
    compaction.compact(log, older_than=0.0, grace=0.0)
    assert _count(log) == {"n": 50, "d": 50}
    assert len(_names(log)) == 1 and _writers(log) == {"gw_a": 15, "gw_b": 15, "gw_c": 20}


def _compacted_per_writer(log: LogFiles, segments: list[tuple[str, pa.Table]], host: str) -> str:
    """What compaction wrote before it merged every writer: one file of ``host``'s
    segments, named by its writer, naming them in its footer."""
    mine = [(name, table) for name, table in segments if f"-{host}." in name]
    writer = query.NAME.match(mine[0][0])
    assert writer is not None
    metadata = {
        query.REPLACES: json.dumps(sorted(name for name, _ in mine)).encode(),
        query.CREATED: repr(NOON.timestamp() + len(host)).encode(),
    }
    merged = pa.concat_tables([table for _, table in mine]).replace_schema_metadata(metadata)
    name = f"{writer['stamp']}-{writer['writer']}-{query.COMPACTED}{len(host):010x}.parquet"
    log.write(f"{DAY}/{name}", lambda handle: pq.write_table(merged, handle))
    return name


def test_per_writer_files_compacted_before_still_read_once_and_are_merged(log: LogFiles) -> None:
    segments = _hour(log)
    old = [_compacted_per_writer(log, segments, host) for host in HOSTS]

    assert _count(log) == {"n": 45, "d": 45}  # beside the segments they replace
    log.delete([f"{DAY}/{name}" for name, _ in segments])  # a run past their grace
    assert _names(log) == sorted(old) and _count(log) == {"n": 45, "d": 45}

    report = compaction.compact(log, older_than=0.0, grace=3600.0)

    assert report.merged == 3 and report.written == 1
    assert _count(log) == {"n": 45, "d": 45}
    compaction.compact(log, older_than=0.0, grace=0.0)
    (merged,) = _names(log)
    assert merged not in old and _count(log) == {"n": 45, "d": 45}
    assert _writers(log) == {"gw_a": 15, "gw_b": 15, "gw_c": 15}
