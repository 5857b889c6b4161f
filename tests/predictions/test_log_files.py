"""Segments of the prediction log and SQL over them: atomic Parquet files a reader
never sees half-written, outputs stored by kind, and queries whose mistakes name
the tables there are."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from log_rows import buffered, log_row, write

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.predictions import query
from prodml.predictions.segments import table_of, write_segment, writer
from prodml.predictions.writer import SegmentWriter


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "predictions"


def test_a_segment_is_one_parquet_file_per_model_and_day(folder: Path) -> None:
    path = write(folder, [log_row("r1"), log_row("r2")])

    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert path.parent == folder / "m" / today
    assert re.fullmatch(rf"\d{{6}}-{re.escape(writer())}-[0-9a-f]{{12}}\.parquet", path.name)
    assert writer().endswith(f".{os.getpid()}")
    assert pq.read_table(path).column("request_id").to_pylist() == ["r1", "r2"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_outputs_are_numbers_when_all_are_and_text_otherwise() -> None:
    numbers = table_of([{"output": 1}, {"output": 0.5}, {"output": None}], ("output",))
    mixed = table_of([{"output": 1}, {"output": "cat"}, {"output": [1, 2]}], ("output",))
    untyped = table_of([{"output": 1, "n": 1}], ())

    assert numbers.column("output").type == pa.float64()
    assert numbers.column("output").to_pylist() == [1.0, 0.5, None]
    assert mixed.column("output").to_pylist() == ["1", "cat", "[1,2]"]
    assert untyped.column("output").type == pa.int64()


def test_the_writer_buffers_rows_and_writes_them_on_flush_size_or_close(folder: Path) -> None:
    writer = SegmentWriter(folder, flush_interval=60.0, max_rows=5)
    try:
        writer.append(buffered([log_row("r1"), log_row("r2")]))
        time.sleep(0.1)
        assert not folder.exists()  # buffered until a flush
        writer.append(buffered([log_row(f"s{i}") for i in range(3)]))  # reaches max_rows
        deadline = time.monotonic() + 5
        while writer.written < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writer.written == 5
        writer.append(buffered([log_row("o1", model="other")]))
    finally:
        writer.close()
    assert writer.written == 6 and writer.failures == 0
    assert len(list(folder.glob("*/*/*.parquet"))) == 2


def test_a_write_that_fails_is_counted_and_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    writer = SegmentWriter(blocked, flush_interval=60.0)
    writer.append(buffered([log_row("r1")]))
    writer.close()

    assert (writer.written, writer.failures) == (0, 1)
    assert "could not write 1 logged predictions" in capsys.readouterr().err


def test_queries_ignore_leftover_temporary_files(folder: Path) -> None:
    path = write(folder, [log_row("r1"), log_row("r2")])
    (path.parent / f".{path.name}.tmp").write_bytes(b"PAR1 half a segment")
    (path.parent / ".000000-1-abc.parquet.tmp").write_bytes(b"")

    found = query.query(folder, "SELECT count(*) AS n FROM predictions")

    assert found.to_pylist() == [{"n": 2}]


def test_an_empty_log_has_empty_views(folder: Path) -> None:
    for view in ("predictions", "labels", "labelled"):
        assert query.query(folder, f"SELECT * FROM {view}").num_rows == 0
    columns = query.query(folder, "SELECT * FROM predictions").column_names
    assert {"request_id", "ts", "version", "output", "shadow_output"} <= set(columns)


def test_files_are_chosen_by_model_and_day(folder: Path) -> None:
    write(folder, [log_row("r1")])
    write(folder, [log_row("o1", model="other")], model="other")

    assert query.query(folder, "SELECT count(*) AS n FROM predictions").to_pylist() == [{"n": 2}]
    assert len(query.prediction_files(folder, "m")) == 1
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert query.prediction_files(folder, "m", since=tomorrow) == []
    connection = query.connect(folder, "other")
    try:
        assert connection.execute("SELECT request_id FROM predictions").fetchall() == [("o1",)]
    finally:
        connection.close()


def test_query_predictions_reads_the_clients_log_and_names_the_tables_on_a_mistake(
    tmp_path: Path,
) -> None:
    client = Client(home=str(tmp_path / "home"), auth="off")
    write(Path(client.settings.log_url), [log_row("r1", output=0)])

    table = prodml.query_predictions("SELECT request_id, output FROM predictions", client=client)
    assert table.to_pylist() == [{"request_id": "r1", "output": 0.0}]
    with pytest.raises(InvalidInputError) as refused:
        prodml.query_predictions("SELECT nope FROM predictions", client=client)
    message = str(refused.value)
    assert message.startswith("The query failed:") and "nope" in message
    assert "Tables: predictions, labels, labelled" in message
    with pytest.raises(InvalidInputError, match="Tables: predictions, labels, labelled"):
        prodml.query_predictions("SELEC 1", client=client)


def test_a_segment_is_written_whole_or_not_at_all(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_segment(folder, "m", table_of([log_row("r1")], ("output",)))

    assert query.prediction_files(folder) == []
    assert query.query(folder, "SELECT count(*) AS n FROM predictions").to_pylist() == [{"n": 0}]
