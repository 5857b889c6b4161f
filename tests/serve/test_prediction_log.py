"""Every answered request is one row of the prediction log (a multi-row request one
row per record), written as valid Parquet segments in the log folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from serving_helpers import classifier, crown, gateway, log_versions, logged, predict, row, talk

from prodml.client import Client


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
