"""Names and values from requests never run as SQL.

A model served without a signature logs whatever keys a request sends as input
columns. The monitor names a new column in its alert and its sample query, an
incident's failures and ``valsets add --query`` copy those columns into a validation
set, and slices are cut by the values logged. Each path is fed hostile keys and
values here (SQL that writes a file, reads a local file, or just has quotes,
semicolons, comments and a newline in it): nothing is written, nothing local leaks
into an alert or a page, and the feature still works on the odd name."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from predictions.log_rows import log_row
from prodml.client import Client
from prodml.domain.monitoring import Alert, AlertClass, Signal
from prodml.errors import InvalidInputError
from prodml.monitor import context, quality
from prodml.monitor.spec import load
from prodml.predictions.segments import table_of, write_segment

MARCH_1 = datetime(2025, 3, 1, tzinfo=UTC)
HOUR = 3600.0
ROWS = 40  # requests per window
CLEAN = 4  # clean windows before the one carrying the hostile key
Payload = Callable[[Path, Path], str]  # (file it would write, file it would read) -> key

# Each key closes its quote in the place the old code put it: after ``inputs."``
# in the alert's sample query.
PAYLOADS: dict[str, Payload] = {
    "copy": lambda written, _: (
        f"x\" FROM predictions; COPY (SELECT 42) TO '{written}'; SELECT 'a' AS request_id --"
    ),
    "read_text": lambda _, secret: (
        f"x\" FROM predictions; SELECT content AS request_id FROM read_text('{secret}') --"
    ),
    "quotes": lambda *_: "we\"ird'; name -- with\na newline",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    home = tmp_path_factory.mktemp("sql-safety")
    made = Client(
        home=str(home), user="tester", flush_interval=0.05, notify_file=str(home / "pages.jsonl")
    )
    yield made
    made.close()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, str]:
    """A file a query must not write, and a local secret it must not read."""
    secret = tmp_path / "secret.txt"
    text = f"local-secret-{tmp_path.name}"
    secret.write_text(text)
    return tmp_path / "written.csv", secret, text


def start_of(window: int) -> float:
    return MARCH_1.timestamp() + window * HOUR


def serve(
    client: Client, model: str, window: int, extra: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One window of answered requests as one segment; ``extra`` inputs on each."""
    rng = np.random.default_rng([len(model), window])
    rows = [
        log_row(
            f"{model}-{window}-{i}",
            ts=MARCH_1 + timedelta(seconds=window * HOUR + i * 60),
            model=model,
            output=int(i % 3 == 0),
            inputs={"x": float(rng.normal()), "y": float(rng.normal()), **(extra or {})},
        )
        for i in range(ROWS)
    ]
    table = table_of(rows, ("output", "shadow_output"))
    write_segment(Path(client.settings.log_url), model, table, at=start_of(window))
    return rows


def monitored(client: Client, model: str, key: str) -> Alert:
    """A monitored model whose last window brings the new input ``key``; its one alert."""
    frame = pd.DataFrame({"x": [0.1, -0.2, 0.3, -0.4], "y": [1.0, 0.5, -0.5, -1.0]})
    with prodml.start_run("fit", client=client) as run:
        run.log_model(LogisticRegression().fit(frame, [1, 0, 1, 0]), model, frame.head(1))
    prodml.set_monitor(model, {"window": "1h", "warmup": CLEAN - 1}, client=client)
    for window in range(CLEAN):
        serve(client, model, window)
    serve(client, model, CLEAN, {key: 1.5})
    prodml.run_monitors(model, now=start_of(CLEAN + 1) + 60, notify=True, client=client)
    (alert,) = prodml.list_alerts(model, client=client)
    return alert


def pages(client: Client) -> str:
    sent = Path(client.settings.notify_file)
    return sent.read_text() if sent.exists() else ""


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_a_hostile_input_name_is_named_by_the_alert_and_its_sample_query_never_runs_it(
    client: Client, files: tuple[Path, Path, str], payload: str
) -> None:
    written, secret, text = files
    key = PAYLOADS[payload](written, secret)
    model = f"hostile-{payload.replace('_', '-')}"

    alert = monitored(client, model, key)

    assert key in {s.subject for s in alert.signals if s.monitor == "inputs"}, alert.title
    assert not written.exists(), f"the alert's sample query wrote {written}"
    stored = json.dumps(alert.context, default=str)
    assert text not in stored, "a local file's content is in the alert's context"
    assert text not in pages(client), "a local file's content was sent with the page"
    ids = alert.context["samples"]["request_ids"]
    assert ids and all(i.startswith(f"{model}-{CLEAN}-") for i in ids), ids
    query = alert.context["samples"]["query"]
    try:
        sampled = prodml.query_predictions(query, client=client)
    except InvalidInputError as error:
        pytest.fail(f"the alert's sample query does not run: {error}\n{query}")
    assert sampled.num_rows == 20 and key in sampled.column_names, query
    assert set(sampled.column(key).to_pylist()) == {1.5}
    assert not written.exists()


def test_an_incidents_failures_with_a_hostile_input_name_reach_the_validation_set_as_data(
    client: Client, files: tuple[Path, Path, str]
) -> None:
    """The key closes its quote where the old deduplication of a validation set put it."""
    written, _, _ = files
    key = (
        f"x\" IS NULL OR TRUE) GROUP BY ALL ORDER BY p; COPY (SELECT 42) TO '{written}'; "
        "SELECT 0::BIGINT AS p --"
    )
    alert = monitored(client, "hostile-failures", key)
    incident = prodml.open_incident([alert.id], client=client)
    broken = [f"hostile-failures-{CLEAN}-{i}" for i in range(ROWS)]
    wrong = broken[::4]
    outputs = {r: int(i % 3 == 0) for i, r in enumerate(broken)}
    truth = {r: outputs[r] if r not in wrong else 1 - outputs[r] for r in broken}
    labels = pa.table({"request_id": list(truth), "label": list(truth.values())})
    prodml.ingest_labels(labels, client=client)

    said = prodml.respond_to_incident(
        incident.id, "add-failures", valset="hostile-failures", label_as="late", client=client
    )

    assert not written.exists(), f"adding the failures wrote {written}"
    assert said.startswith(f"{len(wrong)} failing predictions added"), said
    added = prodml.load_table("hostile-failures", client=client)
    assert key in added.column_names
    assert added.column(key).to_pylist() == [1.5] * len(wrong)


def test_valsets_add_query_keeps_a_hostile_input_name_as_a_column_and_reads_only_the_log(
    client: Client, files: tuple[Path, Path, str]
) -> None:
    written, secret, text = files
    key = (
        f"x\" IS NULL OR TRUE) GROUP BY ALL ORDER BY p; COPY (SELECT 42) TO '{written}'; "
        "SELECT 0::BIGINT AS p --"
    )
    rows = serve(client, "hostile-query", 0, {key: 2.5})
    truth = {r["request_id"]: 1 - r["output"] for r in rows[::5]}
    labels = pa.table({"request_id": list(truth), "label": list(truth.values())})
    prodml.ingest_labels(labels, client=client)
    sql = (
        "SELECT unnest(inputs), label AS late FROM labelled "
        "WHERE model = 'hostile-query' AND output <> label"
    )

    first = prodml.add_to_valset("hostile-query", prodml.query_predictions(sql, client=client),
                                 source="the log", client=client)  # fmt: skip
    again = prodml.add_to_valset("hostile-query", prodml.query_predictions(sql, client=client),
                                 source="the log", client=client)  # fmt: skip

    assert not written.exists(), f"adding the rows wrote {written}"
    assert (first.ref, first.num_rows, again.ref) == ("hostile-query@1", len(truth), first.ref)
    added = prodml.load_table("hostile-query", client=client)
    assert added.column(key).to_pylist() == [2.5] * len(truth)
    for sneaky in (
        f"COPY (SELECT 42) TO '{written}'",
        f"SELECT content AS request_id FROM read_text('{secret}')",
        "SET enable_external_access = true",
    ):
        with pytest.raises(InvalidInputError) as refused:
            prodml.query_predictions(sneaky, client=client)
        assert text not in str(refused.value)
    assert not written.exists()


def test_the_sample_query_of_a_slice_with_a_hostile_column_and_value_shows_that_slice(
    client: Client, files: tuple[Path, Path, str]
) -> None:
    written, _, _ = files
    column = f"c\" = 'v' OR TRUE; COPY (SELECT 42) TO '{written}'; SELECT 1 --"
    value = f"v'; COPY (SELECT 42) TO '{written}'; --"
    rows = serve(client, "hostile-slice", 0, {column: value})
    rows += serve(client, "hostile-slice", 1, {column: "other"})
    labels = pa.table({"request_id": [r["request_id"] for r in rows], "label": [0] * len(rows)})
    prodml.ingest_labels(labels, client=client)
    worse = Signal(
        monitor="quality", subject=f"{column}={value}", statistic="accuracy",
        kind=AlertClass.SOFT, observed=0.4, expected=[0.8, 1.0],
        message="accuracy on the slice", score=3.0,
    )  # fmt: skip

    sql = context.sample_query("hostile-slice", start_of(0), start_of(2), [worse],
                               slice_by=["c", column])  # fmt: skip
    try:
        sampled = prodml.query_predictions(sql, client=client)
    except InvalidInputError as error:
        pytest.fail(f"the sample query does not run: {error}\n{sql}")

    assert not written.exists(), f"the sample query wrote {written}"
    ids = sampled.column("request_id").to_pylist()
    assert len(ids) == 20 and all(i.startswith("hostile-slice-0-") for i in ids), ids


def test_label_slices_by_hostile_and_missing_values_are_each_measured(client: Client) -> None:
    """A ``slice_by`` column coded as numbers with NaN for "unknown" and a text column of
    hostile values: each frequent value is a slice, counted on its own rows."""
    hostile = ["a'b", "x'; DROP TABLE rows; --", 'q"q']
    rows = [
        log_row(
            f"coded-{i}",
            ts=MARCH_1 + timedelta(seconds=i * 60),
            model="coded",
            output=1,
            inputs={"code": [1.0, math.nan][i % 2], "kind": hostile[i % 3]},
        )
        for i in range(ROWS)
    ]
    write_segment(Path(client.settings.log_url), "coded", table_of(rows, ("output",)),
                  at=MARCH_1.timestamp())  # fmt: skip
    labels = pa.table({"request_id": [r["request_id"] for r in rows], "label": [1] * ROWS})
    prodml.ingest_labels(labels, client=client)
    spec = load({"labels": {"slice_by": ["code", "kind"]}}, "coded")

    stats = quality.read(Path(client.settings.log_url), spec, start_of(0), start_of(1),
                         start_of(2) + 1e9)  # fmt: skip

    sizes = {name: found["n"] for name, found in stats["slices"].items()}
    expected = {"all": ROWS, "code=1.0": ROWS // 2, "code=nan": ROWS // 2}
    expected |= {f"kind={v}": len(range(i, ROWS, 3)) for i, v in enumerate(hostile)}
    assert sizes == expected, stats["notes"]
    assert stats["notes"] == []
