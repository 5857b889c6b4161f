"""Every answered request is one row of the prediction log (a multi-row request one
row per record), written as valid Parquet segments in the log folder."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq
from serving_helpers import classifier, crown, gateway, log_versions, logged, predict, row, talk

from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.predict.predictor import Predictor
from prodml.predictions import query
from prodml.serve.recorder import Entry, Recorder
from prodml.serve.served import Served


def test_every_answered_request_is_exactly_one_row(sqlite_client: Client) -> None:
    client = sqlite_client
    (first,) = log_versions(client, classifier())
    crown(client, first)
    bodies = [row(a=i / 10) if i % 5 else {"a": 1.0} for i in range(60)]  # every 5th refused

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return list(await asyncio.gather(*(predict(http, body) for body in bodies)))

    responses = talk(gateway(client), scenario)

    answered = [r.json() for r in responses if r.status_code == 200]
    assert len(answered) == 48
    assert {r.status_code for r in responses} == {200, 422}
    found = logged(client, "SELECT request_id, version, output, inputs FROM predictions")
    assert sorted(r["request_id"] for r in found) == sorted(a["request_id"] for a in answered)
    by_id = {r["request_id"]: r for r in found}
    for payload in answered:
        logged_row = by_id[payload["request_id"]]
        assert logged_row["version"] == 1
        assert logged_row["output"] == payload["predictions"][0]


def test_a_multi_row_request_logs_one_row_per_record(sqlite_client: Client) -> None:
    client = sqlite_client
    (first,) = log_versions(client, classifier())
    crown(client, first)

    async def scenario(http: httpx.AsyncClient) -> httpx.Response:
        rows = [row(a=1.0), row(a=-1.0), row(a=2.0)]
        return await predict(http, {"records": rows}, headers={"x-request-id": "batch-9"})

    response = talk(gateway(client), scenario)

    assert len(response.json()["predictions"]) == 3
    found = logged(client, "SELECT request_id, inputs, output FROM predictions ORDER BY 1")
    assert [r["request_id"] for r in found] == ["batch-9/0", "batch-9/1", "batch-9/2"]
    assert [r["inputs"]["a"] for r in found] == [1.0, -1.0, 2.0]
    assert [r["output"] for r in found] == response.json()["predictions"]


def test_segments_are_valid_parquet_in_the_log_folder(sqlite_client: Client) -> None:
    client = sqlite_client
    (first,) = log_versions(client, classifier())
    crown(client, first)

    async def scenario(http: httpx.AsyncClient) -> None:
        for _ in range(2):
            await asyncio.gather(*(predict(http, row()) for _ in range(15)))
            await asyncio.sleep(0.35)  # past a flush

    talk(gateway(client), scenario)

    folder = Path(client.settings.log_url)
    segments = sorted(folder.glob("m/*/*.parquet"))
    assert len(segments) >= 2
    assert not list(folder.rglob("*.tmp"))
    assert sum(pq.read_table(s).num_rows for s in segments) == 30
    schema = pq.read_schema(segments[0])
    for column in (
        "request_id",
        "ts",
        "model",
        "version",
        "variant",
        "status",
        "output",
        "latency_ms",
        "shadow_output",
        "inputs",
    ):
        assert column in schema.names
    assert str(schema.field("ts").type) == "timestamp[us, tz=UTC]"


# --- the recorder on real files: what no request can do to the log ------------------------


class Sum:
    """Answers the sum of a row's numbers (text left out); ``seconds`` of sleep per call."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def predict(self, frame: Any) -> np.ndarray:
        time.sleep(self.seconds)
        if hasattr(frame, "select_dtypes"):
            frame = frame.select_dtypes("number")
        return np.asarray(frame, dtype=float).sum(axis=1)


SIGNED = {
    "kind": "columns",
    "columns": [
        {"name": "n", "type": "int64"},
        {"name": "x", "type": "double"},
        {"name": "s", "type": "string"},
    ],
}
TENSOR = {"kind": "tensor", "dtype": "float64", "shape": [-1, 3]}


def served(name: str, signature: dict[str, Any], number: int = 1, **kw: Any) -> Served:
    version = ModelVersion(
        id=f"{name}-v{number}", name=name, version=number, run_id="run", digest="0" * 64,
        flavor="pyfunc", author="tester", created_at=datetime.now(UTC), signature=signature,
    )  # fmt: skip
    return Served(Predictor(version, Sum(**kw)), timeout=kw.get("seconds", 0.0) + 5.0)


def entry(
    version: Served, rows: list[Any], request_id: str = "", shadow: Served | None = None
) -> Entry:
    return Entry(
        model=version.version.name, request_id=request_id or uuid.uuid4().hex, ts=time.time(),
        rows=rows, answers=[1.0] * len(rows), served=version, answered_by=version,
        shadow=shadow, variant="champion", rollout_id=None, step=None, routing_key=None,
        latency_ms=1.0, error=None, fallback=None,
    )  # fmt: skip


def good(i: int) -> dict[str, Any]:
    return {"n": i, "x": i / 2, "s": f"client-{i}"}


def rows_of_log(
    folder: Path, sql: str = "SELECT * FROM predictions", model: str | None = None
) -> list[dict[str, Any]]:
    return list(query.query(folder, sql, model).to_pylist())


def quarantined(folder: Path) -> list[dict[str, Any]]:
    lines = [
        line for path in sorted(folder.glob("_quarantine/*/*/*.jsonl"))
        for line in path.read_text().splitlines()
    ]  # fmt: skip
    return [json.loads(line) for line in lines]


def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)


def test_values_no_column_can_hold_are_quarantined_and_every_other_row_is_written(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "log"
    signed, tensor, unsigned = served("m", SIGNED), served("t", TENSOR), served("u", {})
    recorder = Recorder(folder, flush_interval=60.0)  # one flush, at close: one batch
    bad = [
        entry(signed, [{**good(1), "n": 18446744073709551615}], "huge"),
        entry(signed, [{**good(2), "n": True}], "flag"),
        entry(signed, [{**good(3), "s": 5}], "text-as-number"),
        entry(tensor, [[1, [2], 3]], "nested"),
    ]
    fine = [entry(signed, [good(i)], f"a{i}") for i in range(10)]
    fine += [entry(tensor, [[1.0, 2.0, 3.0]], "t1"), entry(unsigned, [{"k": "text"}], "u1")]
    fine += [entry(unsigned, [{"k": 7}], "u2"), entry(signed, [good(20), good(21)], "pair")]
    for made in [*fine[:5], *bad, *fine[5:]]:
        recorder.add(made)
    recorder.close()

    found = rows_of_log(folder, "SELECT request_id, model, inputs FROM predictions")
    logged_ids = sorted(r["request_id"] for r in found)
    assert logged_ids == sorted(
        [*(f"a{i}" for i in range(10)), "t1", "u1", "u2", "pair/0", "pair/1"]
    )
    inputs = "SELECT request_id, inputs FROM predictions ORDER BY request_id"
    signed_rows = {r["request_id"]: r["inputs"] for r in rows_of_log(folder, inputs, "m")}
    assert signed_rows["a3"] == {"n": 3, "x": 1.5, "s": "client-3"}
    assert rows_of_log(folder, inputs, "t") == [
        {"request_id": "t1", "inputs": {"values": [1, 2, 3]}}
    ]
    unsigned_rows = rows_of_log(folder, "SELECT request_id, inputs_json FROM predictions", "u")
    assert sorted(r["inputs_json"] for r in unsigned_rows) == ['{"k":"text"}', '{"k":7}']
    assert len(rows_of_log(folder, "SELECT unnest(inputs) FROM predictions", "u")) == 2
    kept = {q["row"]["request_id"]: q["error"] for q in quarantined(folder)}
    assert set(kept) == {"huge", "flag", "text-as-number", "nested"}
    assert kept["huge"].startswith("inputs.n:") and kept["flag"].startswith("inputs.n:")
    assert kept["text-as-number"].startswith("inputs.s:")
    assert kept["nested"].startswith("inputs.values:")
    (held,) = [q["row"] for q in quarantined(folder) if q["row"]["request_id"] == "huge"]
    assert held["inputs"]["n"] == 18446744073709551615 and held["model"] == "m"
    health = recorder.health()
    assert (health["written"], health["quarantined"], health["dropped"]) == (15, 4, 0)
    assert health["buffered"] == 0 and "inputs" in str(health["last_error"])


def test_the_writer_survives_a_bad_flush_and_writes_every_later_row(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    signed = served("m", SIGNED)
    recorder = Recorder(folder, flush_interval=0.05)
    try:
        recorder.add(entry(signed, [{**good(1), "n": 18446744073709551615}], "huge"))
        recorder.add(entry(signed, [good(2)], "beside"))
        until(lambda: recorder.health()["quarantined"] == 1 and recorder.health()["written"] == 1)
        for i in range(5):
            recorder.add(entry(signed, [good(i)], f"later{i}"))
        until(lambda: recorder.health()["written"] == 6)
        assert recorder.health()["alive"] is True
    finally:
        recorder.close()
    found = {r["request_id"] for r in rows_of_log(folder)}
    assert found == {"beside", *(f"later{i}" for i in range(5))}


def test_a_full_buffer_drops_the_newest_requests_and_counts_them(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    signed = served("m", SIGNED)
    recorder = Recorder(folder, flush_interval=60.0, max_buffered=5)
    for i in range(8):
        recorder.add(entry(signed, [good(i)], f"r{i}"))
    assert recorder.health()["dropped"] == 3 and recorder.health()["buffered"] == 5
    recorder.close()

    assert sorted(r["request_id"] for r in rows_of_log(folder)) == [f"r{i}" for i in range(5)]
    assert (recorder.health()["written"], recorder.health()["dropped"]) == (5, 3)


def test_served_rows_are_written_while_a_slow_shadow_predicts_and_its_answers_join_later(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "log"
    champion, slow = served("m", SIGNED), served("m", SIGNED, number=2, seconds=1.5)
    recorder = Recorder(folder, flush_interval=0.1)
    try:
        for i in range(5):
            recorder.add(entry(champion, [good(i)], f"r{i}", shadow=slow))
        started = time.monotonic()
        until(lambda: len(rows_of_log(folder)) == 5, seconds=1.0)  # long before the shadow
        assert time.monotonic() - started < 1.0
        assert {r["shadow_version"] for r in rows_of_log(folder)} == {None}
        until(lambda: recorder.health()["shadow_waiting"] == 0)
    finally:
        recorder.close()
    found = rows_of_log(folder, "SELECT request_id, shadow_version, shadow_output FROM predictions")
    assert sorted(found, key=lambda r: str(r["request_id"])) == [
        {"request_id": f"r{i}", "shadow_version": 2, "shadow_output": i + i / 2} for i in range(5)
    ]
    assert rows_of_log(folder, "SELECT count(*) AS n FROM predictions") == [{"n": 5}]


def test_every_row_has_a_row_id_of_its_own_beside_the_clients_request_id(
    sqlite_client: Client,
) -> None:
    client = sqlite_client
    (first,) = log_versions(client, classifier())
    crown(client, first)

    async def scenario(http: httpx.AsyncClient) -> None:
        for _ in range(3):
            await predict(http, row(), headers={"x-request-id": "same"})
        await predict(http, {"records": [row(), row()]}, headers={"x-request-id": "same"})

    talk(gateway(client), scenario)

    found = logged(client, "SELECT request_id, row_id FROM predictions")
    assert sorted(r["request_id"] for r in found) == ["same", "same", "same", "same/0", "same/1"]
    assert len({r["row_id"] for r in found}) == 5
    assert all(len(r["row_id"]) == 32 for r in found)
