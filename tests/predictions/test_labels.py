"""Ground truth joined to logged requests by id: unknown ids are counted and named
but never stored, a repeated id keeps its last label, lags are never negative, and
the ``labelled`` view pairs each answer with its label."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from log_rows import log_row, write

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError


@pytest.fixture
def logged(client: Client) -> Client:
    """Requests r1..r4 answered 100 s ago with outputs 1, 0, 1, 0."""
    at = datetime.fromtimestamp(time.time() - 100, UTC)
    rows = [log_row(f"r{i}", ts=at, output=i % 2) for i in range(1, 5)]
    write(Path(client.settings.log_url), rows)
    return client


def _query(client: Client, sql: str) -> list[dict[str, object]]:
    return list(prodml.query_predictions(sql, client=client).to_pylist())


def test_labels_join_by_request_id_and_unknown_ids_are_reported_not_stored(
    logged: Client,
) -> None:
    labels = pa.table(
        {"request_id": ["r1", "r2", "r2", "r3", "ghost", "r9"], "label": [1, 0, 1, 0, 1, 1]}
    )

    report = prodml.ingest_labels(labels, key="request_id", client=logged)

    assert (report.rows, report.matched, report.unknown) == (6, 3, 2)
    assert report.unknown_examples == ["ghost", "r9"]
    assert report.repeated_in_file == 1 and report.relabelled == 0
    assert report.lag_median_s is not None and report.lag_median_s >= 99
    assert report.lag_p90_s is not None and report.lag_p90_s >= report.lag_median_s
    stored = _query(logged, "SELECT request_id, label, model FROM labels ORDER BY 1")
    assert stored == [
        {"request_id": "r1", "label": 1.0, "model": "m"},
        {"request_id": "r2", "label": 1.0, "model": "m"},  # the last label in the file wins
        {"request_id": "r3", "label": 0.0, "model": "m"},
    ]
    joined = _query(logged, "SELECT request_id, output, label FROM labelled ORDER BY 1")
    assert joined == [
        {"request_id": "r1", "output": 1.0, "label": 1.0},
        {"request_id": "r2", "output": 0.0, "label": 1.0},
        {"request_id": "r3", "output": 1.0, "label": 0.0},
    ]
    (event,) = [e for e in logged.metadata.list_events() if e.action == "labels.ingested"]
    assert event.details == {
        "rows": 6,
        "matched": 3,
        "unknown": 2,
        "lag_median_s": report.lag_median_s,
    }


def test_a_relabelled_request_keeps_its_latest_label(logged: Client) -> None:
    prodml.ingest_labels(pd.DataFrame({"request_id": ["r1"], "label": [0]}), client=logged)
    time.sleep(0.01)
    again = prodml.ingest_labels(
        pd.DataFrame({"request_id": ["r1", "r2"], "label": [1, 1]}), client=logged
    )

    assert (again.matched, again.relabelled) == (2, 1)
    stored = _query(logged, "SELECT request_id, label FROM labels ORDER BY 1")
    assert stored == [{"request_id": "r1", "label": 1.0}, {"request_id": "r2", "label": 1.0}]


def test_labels_from_a_csv_with_their_own_times_and_key(logged: Client, tmp_path: Path) -> None:
    seen = datetime.fromtimestamp(time.time() - 40, UTC).isoformat()
    early = datetime.fromtimestamp(time.time() - 1000, UTC).isoformat()
    source = tmp_path / "truth.csv"
    source.write_text(f"order,truth,when\nr1,1,{seen}\nr2,0,{early}\n")

    report = prodml.ingest_labels(source, key="order", label="truth", at="when", client=logged)

    assert report.matched == 2
    lags = _query(logged, "SELECT request_id, lag_seconds FROM labels ORDER BY 1")
    assert lags[0]["lag_seconds"] == pytest.approx(60, abs=2)  # labelled 60 s after
    assert lags[1]["lag_seconds"] == 0.0  # a label time before the prediction counts as 0
    (event,) = [e for e in logged.metadata.list_events() if e.action == "labels.ingested"]
    assert event.subject_id == "truth.csv"


def test_a_missing_column_is_named_with_the_columns_there_are(logged: Client) -> None:
    table = pa.table({"id": ["r1"], "label": [1]})

    with pytest.raises(
        InvalidInputError,
        match=r"no column 'request_id' \(given as --key\); "
        r"they have: id, label",
    ):
        prodml.ingest_labels(table, client=logged)
    with pytest.raises(InvalidInputError, match="no column 'truth'"):
        prodml.ingest_labels(table, key="id", label="truth", client=logged)


def test_labels_for_nothing_logged_store_nothing(client: Client) -> None:
    report = prodml.ingest_labels(pa.table({"request_id": ["x"], "label": [1]}), client=client)

    assert (report.matched, report.unknown, report.segment) == (0, 1, None)
    assert report.lag_median_s is None
    assert _query(client, "SELECT count(*) AS n FROM labels") == [{"n": 0}]


def test_a_label_whose_id_was_logged_more_than_once_applies_to_each_and_is_reported(
    logged: Client,
) -> None:
    at = datetime.fromtimestamp(time.time() - 50, UTC)
    again = [log_row("r1", ts=at, output=0), log_row("r1", ts=at, output=1, model="m")]
    write(Path(logged.settings.log_url), again)  # a client that reused its request id

    report = prodml.ingest_labels(
        pa.table({"request_id": ["r1", "r2"], "label": [1, 0]}), client=logged
    )

    assert (report.matched, report.ambiguous, report.ambiguous_rows) == (2, 1, 3)
    assert report.ambiguous_examples == ["r1"]
    joined = _query(logged, "SELECT request_id, label FROM labelled WHERE request_id = 'r1'")
    assert joined == [{"request_id": "r1", "label": 1.0}] * 3
