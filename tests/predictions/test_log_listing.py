"""Which of the log's files a reader reads, and what it asks the store for first: a
compacted file's footer only when another file of its hour and kind is listed,
every listing of a query at once; each row counted once all the same."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from log_rows import log_row

from prodml.predictions import compaction, query
from prodml.predictions.segments import table_of, write_segment
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

NOON = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAY = "m/2025-03-01"
COUNT = "SELECT count(*) AS n, count(DISTINCT row_id) AS d FROM predictions"


@pytest.fixture(autouse=True)
def _host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODML_HOST", "gw_a")  # set back after each test


@pytest.fixture(params=["local", "s3"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogFiles]:
    if request.param == "local":
        yield open_log_files(tmp_path / "predictions")
        return
    bucket = request.getfixturevalue("s3_bucket")
    yield open_log_files(f"s3://{bucket}/predictions", tmp_path / "cache")


def _segments(log: LogFiles, host: str, first: int, at: datetime, count: int = 3) -> None:
    """``count`` segments of 5 rows from ``host``, a minute apart from ``at``."""
    os.environ["PRODML_HOST"] = host  # the writer in the names: <host>.<pid>
    for n in range(count):
        moment = at + timedelta(minutes=n)
        rows = [
            log_row(f"{host}{first + 5 * n + i}", row_id=f"{host}{first + 5 * n + i}", ts=moment)
            for i in range(5)
        ]
        write_segment(log, "m", table_of(rows, ("output",)), at=moment.timestamp())


def _count(log: LogFiles) -> dict[str, int]:
    (found,) = query.query(log, COUNT).to_pylist()
    return {"n": int(found["n"]), "d": int(found["d"])}


def _names(log: LogFiles, folder: str = DAY) -> list[str]:
    return [entry.name for entry in log.files(folder)]


def _watch(log: LogFiles, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls of the log's filesystem that read objects, counted."""
    calls: dict[str, int] = {}
    fs: Any = getattr(log, "fs")  # noqa: B009

    for name in ("get", "cat_ranges", "cat_file", "info", "size", "open"):
        method = getattr(fs, name)

        def counted(*args: object, _name: str = name, _method: Any = method, **kw: object) -> Any:
            calls[_name] = calls.get(_name, 0) + 1
            return _method(*args, **kw)

        monkeypatch.setattr(fs, name, counted)
    return calls


def test_an_hour_compaction_tidied_is_read_without_its_footers(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log_files(f"s3://{s3_bucket}/predictions", tmp_path / "cache")
    for host in ("gw_a", "gw_b"):
        _segments(log, host, 0, NOON)
        _segments(log, host, 100, NOON + timedelta(hours=1))
    compaction.compact(log, older_than=0.0, grace=0.0)
    compaction.compact(log, older_than=0.0, grace=0.0)  # the replaced segments deleted
    assert len(_names(log)) == 2 and all(query.is_compacted(name) for name in _names(log))
    reader = open_log_files(f"s3://{s3_bucket}/predictions", tmp_path / "cache")  # a new one
    calls = _watch(reader, monkeypatch)

    assert len(query.prediction_files(reader, "m")) == 2  # an hour's file of both hosts
    assert calls == {}  # listed only: no footer read
    assert _count(reader) == {"n": 60, "d": 60}
    assert calls == {"get": 1}  # the two files, fetched together, and nothing before


def test_each_row_counts_once_while_one_hosts_replaced_segments_wait_for_deletion(
    log: LogFiles,
) -> None:
    for host in ("gw_a", "gw_b"):
        _segments(log, host, 0, NOON)
    compaction.compact(log, older_than=0.0, grace=3600.0)
    assert len(_names(log)) == 7 and _count(log) == {"n": 30, "d": 30}  # one file of both

    replaced = [n for n in _names(log) if "-gw_a." in n and not query.is_compacted(n)]
    log.delete([f"{DAY}/{name}" for name in replaced])

    assert _count(log) == {"n": 30, "d": 30}  # the file beside gw_b's segments it replaces
    assert compaction.compact(log, older_than=0.0, grace=0.0).deleted == 3
    assert _count(log) == {"n": 30, "d": 30}


def test_a_compacted_file_of_a_second_run_hides_the_first_run_and_its_segments(
    log: LogFiles,
) -> None:
    _segments(log, "gw_a", 0, NOON)
    compaction.compact(log, older_than=0.0, grace=3600.0)
    _segments(log, "gw_a", 50, NOON + timedelta(minutes=3))
    compaction.compact(log, older_than=0.0, grace=3600.0)  # the first file, and 3 more

    assert sum(query.is_compacted(name) for name in _names(log)) == 2
    assert _count(log) == {"n": 30, "d": 30}
    compaction.compact(log, older_than=0.0, grace=0.0)
    assert len(_names(log)) == 1 and _count(log) == {"n": 30, "d": 30}


def test_a_compacted_file_deleted_between_the_listing_and_its_read_is_left_out(
    log: LogFiles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _segments(log, "gw_a", 0, NOON)
    compaction.compact(log, older_than=0.0, grace=3600.0)
    (first,) = [name for name in _names(log) if query.is_compacted(name)]
    _segments(log, "gw_a", 50, NOON + timedelta(minutes=3))
    compaction.compact(log, older_than=0.0, grace=3600.0)  # replaces the first file
    reader = open_log_files(log.url, tmp_path / "reader-cache")  # another host's cache
    listed = reader.listings

    def then_deleted(wanted: Any) -> Any:
        found = listed(wanted)
        log.delete([f"{DAY}/{first}"])  # a compaction past its grace, meanwhile
        return found

    monkeypatch.setattr(reader, "listings", then_deleted)

    assert _count(reader) == {"n": 30, "d": 30}


def test_two_compacted_files_of_one_hour_and_writer_both_count(log: LogFiles) -> None:
    """A writer silent for more than a minute: the segments on either side of the pause
    go into two files of the same hour and writer, and both are read."""
    _segments(log, "gw_a", 0, NOON)
    _segments(log, "gw_a", 50, NOON + timedelta(minutes=10))
    compaction.compact(log, older_than=0.0, grace=0.0)
    compaction.compact(log, older_than=0.0, grace=0.0)

    assert len(_names(log)) == 2 and all(query.is_compacted(name) for name in _names(log))
    assert _count(log) == {"n": 30, "d": 30}


def test_label_files_of_every_writer_merged_into_one_are_read_once(log: LogFiles) -> None:
    """Label files of all writers merge into one file: a listing that still shows one
    writer's label file (a delete half done) leaves it out."""
    for number, host in enumerate(("gw_a", "gw_b")):
        os.environ["PRODML_HOST"] = host
        labelled = table_of([{"request_id": f"r{number}", "label": 1.0}], ("label",))
        write_segment(log, query.LABELS, labelled, at=NOON.timestamp())
    folder = f"{query.LABELS}/2025-03-01"
    compaction.compact(log, older_than=0.0, grace=3600.0)
    (merged,) = [name for name in _names(log, folder) if query.is_compacted(name)]
    named = query.NAME.match(merged)
    assert named is not None and named["writer"] == query.EVERY_WRITER
    log.delete([f"{folder}/{n}" for n in _names(log, folder) if "-gw_a." in n])

    assert [path.rsplit("/", 1)[1] for path in query.label_files(log)] == [merged]


def test_a_compacted_file_from_before_hosts_were_named_still_hides_other_hours(
    log: LogFiles,
) -> None:
    """Compaction merged a writer's segments of several hours before it merged by hour
    (and before writers named their host): such a file's footer is always read."""
    late = "130500-4242-0123456789ab.parquet"
    rows = [log_row(f"r{i}", row_id=f"r{i}", ts=NOON + timedelta(minutes=30 * i)) for i in range(4)]
    table = table_of(rows, ("output",))
    _write(log, f"{DAY}/{late}", table.slice(2))
    merged = table.replace_schema_metadata({query.REPLACES: f'["{late}"]'.encode()})
    _write(log, f"{DAY}/120000-4242-{query.COMPACTED}0123456789.parquet", merged)

    assert _count(log) == {"n": 4, "d": 4}


def test_the_listings_of_a_narrow_query_go_out_together(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log_files(f"s3://{s3_bucket}/predictions")
    _segments(log, "gw_a", 0, NOON, count=1)
    fs: Any = getattr(log, "fs")  # noqa: B009
    listed = fs._find
    waits: list[float] = []

    async def slow(*args: object, **kwargs: object) -> Any:
        waits.append(0.4)
        await asyncio.sleep(0.4)
        return await listed(*args, **kwargs)

    monkeypatch.setattr(fs, "_find", slow)
    started = time.perf_counter()
    files = query.prediction_files(log, "m", NOON, NOON + timedelta(hours=1))
    took = time.perf_counter() - started

    assert len(files) == 1
    assert len(waits) == 8  # 11:00 to 14:00, served and shadow names
    assert took < 3 * 0.4, f"{took:.2f} s: the listings went out one after another"


def _write(log: LogFiles, key: str, table: Any) -> None:
    log.write(key, lambda handle: pq.write_table(table, handle))
