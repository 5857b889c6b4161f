"""A query about one model's window opens only that model's segments of those days,
so a page that shows an alert's sample rows reads a day of the log, not the month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from log_rows import log_row

import prodml
from prodml.client import Client
from prodml.errors import DataReadError
from prodml.predictions.segments import table_of, write_segment

MARCH_1 = datetime(2025, 3, 1, 12, tzinfo=UTC)
SQL = "SELECT count(*) AS n FROM predictions WHERE model = 'm'"


def test_a_narrowed_query_reads_only_its_models_segments_of_its_days(tmp_path: Path) -> None:
    client = Client(home=str(tmp_path / "home"), user="tester")
    log = Path(client.settings.log_url)
    for day in range(3):
        moment = MARCH_1 + timedelta(days=day)
        rows = [log_row(f"r{day}-{i}", ts=moment + timedelta(minutes=i)) for i in range(5)]
        write_segment(log, "m", table_of(rows, ("output",)), at=moment.timestamp())
    broken = log / "m" / (MARCH_1 + timedelta(days=2)).strftime("%Y-%m-%d") / "bad.parquet"
    broken.write_bytes(b"not parquet")  # any read of the third day fails
    (log / "other" / "2025-03-01").mkdir(parents=True)
    (log / "other" / "2025-03-01" / "bad.parquet").write_bytes(b"not parquet either")

    narrowed = prodml.query_predictions(
        SQL, client=client, model="m", since=MARCH_1, until=MARCH_1 + timedelta(days=1)
    )

    assert narrowed.to_pylist() == [{"n": 10}]
    with pytest.raises(DataReadError, match=r"bad\.parquet"):  # the whole log is opened
        prodml.query_predictions(SQL, client=client)
    client.close()


def test_labels_filed_before_the_requests_asked_about_are_not_read(tmp_path: Path) -> None:
    client = Client(home=str(tmp_path / "home"), user="tester")
    log = Path(client.settings.log_url)
    rows = [log_row(f"r{i}", ts=MARCH_1 + timedelta(minutes=i)) for i in range(4)]
    write_segment(log, "m", table_of(rows, ("output",)), at=MARCH_1.timestamp())
    prodml.ingest_labels(pa.table({"request_id": ["r0", "r1"], "label": [1, 0]}), client=client)
    long_ago = log / "_labels" / "2024-01-01"
    long_ago.mkdir(parents=True)
    (long_ago / "old.parquet").write_bytes(b"labels of last year, unreadable")

    labelled = prodml.query_predictions(
        "SELECT request_id, label FROM labelled ORDER BY request_id",
        client=client, model="m", since=MARCH_1,
    )  # fmt: skip

    assert labelled.to_pylist() == [
        {"request_id": "r0", "label": 1.0},
        {"request_id": "r1", "label": 0.0},
    ]
    client.close()
