"""Queries over the prediction log read the log and nothing else, and work wherever
the log lives: file lists reach DuckDB as quoted literals, and each connection is
sealed once its views exist (no other file read or written, no extension loaded,
no setting turned back)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from log_rows import log_row, write
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.predictions.segments import table_of, write_segment

MARCH_1 = datetime(2025, 3, 1, tzinfo=UTC)


def _client(home: Path) -> Client:
    return Client(home=str(home), user="tester", flush_interval=0.05)


@pytest.fixture
def odd_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """A store under a folder whose name has an apostrophe (and a double quote)."""
    monkeypatch.chdir(tmp_path)  # runs capture no code diff of this checkout
    made = _client(tmp_path / "o'brien's \"models\"")
    yield made
    made.close()


def test_a_log_under_a_folder_named_with_an_apostrophe_is_labelled_queried_and_monitored(
    odd_home: Client,
) -> None:
    frame = pd.DataFrame({"a": [0.5, -0.5, 1.0, -1.0], "b": [1.0, 0.0, 1.0, 0.0]})
    with prodml.start_run("fit", client=odd_home) as run:
        run.log_model(LogisticRegression().fit(frame, [1, 0, 1, 0]), "m", frame.head(1))
    prodml.set_monitor("m", {"window": "1h", "warmup": 2}, client=odd_home)
    rows = [log_row(f"r'{i}", ts=MARCH_1 + timedelta(minutes=i), output=i % 2) for i in range(30)]
    table = table_of(rows, ("output", "shadow_output"))
    write_segment(Path(odd_home.settings.log_url), "m", table, at=MARCH_1.timestamp())

    labels = pa.table({"request_id": [r["request_id"] for r in rows], "label": [1] * 30})
    report = prodml.ingest_labels(labels, client=odd_home)
    joined = prodml.query_predictions(
        "SELECT count(*) AS n, sum(label) AS labels FROM labelled", client=odd_home
    )
    outcomes = prodml.run_monitors("m", now=MARCH_1.timestamp() + 3700, notify=False,
                                   client=odd_home)  # fmt: skip

    assert (report.matched, report.unknown) == (30, 0)
    assert joined.to_pylist() == [{"n": 30, "labels": 30.0}]
    assert [(o.start, o.rows) for o in outcomes] == [(MARCH_1.timestamp(), 30)]


def test_a_query_over_the_log_reads_only_the_log_and_writes_nothing(
    client: Client, tmp_path: Path
) -> None:
    segment = write(Path(client.settings.log_url), [log_row(f"r{i}") for i in range(3)])
    before = segment.read_bytes()
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nlocal-secret-value\n")
    written = tmp_path / "written.csv"
    refused = {
        "COPY (SELECT 42) TO '{written}'": "one SELECT; this is COPY",
        "COPY (SELECT 42 AS a) TO '{segment}' (USE_TMP_FILE false)": "one SELECT",
        "SELECT 1; COPY (SELECT 42) TO '{written}'": "one SELECT; this is SELECT then COPY",
        "ATTACH '{written}' AS other": "one SELECT; this is ATTACH",
        "INSTALL httpfs": "one SELECT",
        "SET enable_external_access = true": "one SELECT; this is SET",
        "SELECT * FROM read_text('{secret}')": "Permission",
        "SELECT * FROM read_csv('{secret}')": "Permission",
        "SELECT * FROM '{secret}'": "Permission",
        "SELECT * FROM query('COPY (SELECT 42) TO ''{written}''')": "single SELECT",
    }

    for sql, reason in refused.items():
        text = sql.format(written=written, secret=secret, segment=segment)
        with pytest.raises(InvalidInputError, match=reason) as error:
            prodml.query_predictions(text, client=client)
        assert "local-secret-value" not in str(error.value)

    assert not written.exists(), f"a query over the log wrote {written}"
    assert segment.read_bytes() == before, "a query over the log rewrote its segment"
    counted = prodml.query_predictions("SELECT count(*) AS n FROM predictions", client=client)
    assert counted.to_pylist() == [{"n": 3}]
