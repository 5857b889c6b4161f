"""The gateway's edge: every value is checked against the signature before it reaches
a batch, a guardrail or the log; ids, bodies and metrics are bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import edge_models
import httpx
import numpy as np
import pytest
from serving_helpers import Constant, crown, frame, gateway, log_versions, predict, row, talk

import prodml
from prodml.client import Client
from prodml.domain.artifact import ModelVersion

HUGE = 18446744073709551615  # 2^64 - 1: valid JSON, past every 64-bit integer


def _tensor_model(client: Client) -> ModelVersion:
    with prodml.start_run("fit", client=client) as run:
        version = run.log_model(edge_models.SlowSum(), "t", example=np.zeros((4, 3)))
    crown(client, version)
    return version


def _unsigned_model(client: Client) -> ModelVersion:
    with prodml.start_run("fit", client=client) as run:
        version = run.log_model(Constant(1), "u")
    crown(client, version)
    return version


@pytest.mark.parametrize(
    ("value", "said"),
    [(HUGE, "2^53"), (True, "true/false"), ("3", "a number"), ({"x": 1}, "a number")],
)
def test_a_value_the_signature_cannot_hold_is_refused_naming_its_field(
    sqlite_client: Client, value: Any, said: str
) -> None:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])
    answer = talk(gateway(sqlite_client), lambda http: predict(http, row(a=value)))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "a"
    assert said in answer.json()["error"]


def test_an_integer_column_refuses_values_outside_its_type(sqlite_client: Client) -> None:
    example = frame().head().assign(a=[1, 2, 3, 4, 5])
    with prodml.start_run("fit", client=sqlite_client) as run:
        version = run.log_model(Constant(1), "m", example=example)
    crown(sqlite_client, version)

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await predict(http, row(a=HUGE)),
            await predict(http, row(a=1.5)),
            await predict(http, row(a=2**62)),
        ]

    huge, fraction, fine = talk(gateway(sqlite_client), scenario)
    assert huge.status_code == 422 and "int64" in huge.json()["error"]
    assert fraction.status_code == 422 and fraction.json()["field"] == "a"
    assert fine.status_code == 200, fine.text


def test_malformed_tensor_rows_are_refused_and_good_requests_beside_them_answered(
    sqlite_client: Client,
) -> None:
    _tensor_model(sqlite_client)
    bad_rows = [["a", 1, 2], [1, [2], 3], [True, 1, 2], [1, 2]]

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        good = [predict(http, [[i, 1, 1]], name="t") for i in range(120)]
        bad = [predict(http, [rows], name="t") for rows in bad_rows]
        return list(await asyncio.gather(*good[:60], *bad, *good[60:]))

    answers = talk(gateway(sqlite_client, ("t",)), scenario)
    refused = [a for a in answers if a.status_code != 200]
    assert [a.status_code for a in refused] == [422] * len(bad_rows)
    assert all(a.json()["field"].startswith("records[0]") for a in refused)
    good = [a.json() for a in answers if a.status_code == 200]
    assert len(good) == 120
    assert all(a["fallback"] is None for a in good)
    assert sorted(a["predictions"][0] for a in good) == [float(i + 2) for i in range(120)]


def test_a_model_without_signature_is_served_only_by_choice(sqlite_client: Client) -> None:
    _unsigned_model(sqlite_client)
    with pytest.raises(prodml.ProdmlError, match="--allow-unsigned"):
        talk(gateway(sqlite_client, ("u",)), lambda http: predict(http, {"a": 1}, name="u"))


def test_keys_and_values_for_a_model_without_signature_must_be_plain(
    sqlite_client: Client,
) -> None:
    _unsigned_model(sqlite_client)
    hostile = "x\" FROM predictions; COPY (SELECT 42) TO '/tmp/f.csv'; SELECT 'a' --"

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await predict(http, {hostile: 1}, name="u"),
            await predict(http, {"a": [1, 2]}, name="u"),
            await predict(http, [{"a": 1}, {"a": "one"}], name="u"),
            await predict(http, {"a": 1, "b": "text", "c": None}, name="u"),
        ]

    key, nested, mixed, fine = talk(gateway(sqlite_client, ("u",), allow_unsigned=True), scenario)
    assert key.status_code == 422 and key.json()["field"] == "records[0]"
    assert nested.status_code == 422 and nested.json()["field"] == "a"
    assert mixed.status_code == 422 and "one type per field" in mixed.json()["error"]
    assert fine.status_code == 200, fine.text


def test_the_row_limit_is_checked_before_columns_are_expanded(sqlite_client: Client) -> None:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])
    body = {"columns": {"a": [0.0] * 10_001, "b": [0.0] * 10_001}}
    answer = talk(gateway(sqlite_client), lambda http: predict(http, body))
    assert answer.status_code == 413
    assert answer.json()["field"] == "columns"


@pytest.mark.parametrize("request_id", ["x" * 6_000, "two words", "a/b", ""])
def test_a_client_request_id_is_bounded_in_length_and_characters(
    sqlite_client: Client, request_id: str
) -> None:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])
    headers = {"x-request-id": request_id}
    answer = talk(gateway(sqlite_client), lambda http: predict(http, row(), headers=headers))
    if request_id:
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "x-request-id"
    else:  # an empty header is no id: the gateway makes one
        assert answer.status_code == 200 and len(answer.json()["request_id"]) == 32


def test_an_infer_request_id_is_checked_like_the_header(sqlite_client: Client) -> None:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])
    body = {"id": "y" * 500, "inputs": [{"name": "a", "data": [1.0]}, {"name": "b", "data": [2]}]}
    answer = talk(gateway(sqlite_client), lambda http: http.post("/v2/models/m/infer", json=body))
    assert answer.status_code == 422 and answer.json()["field"] == "id"


def test_unknown_model_names_do_not_grow_the_metrics(sqlite_client: Client) -> None:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])

    async def scenario(http: httpx.AsyncClient) -> tuple[bytes, bytes]:
        await predict(http, row())
        before = (await http.get("/metrics")).content
        for index in range(300):
            await predict(http, row(), name=f"nope{index}")
        return before, (await http.get("/metrics")).content

    before, after = talk(gateway(sqlite_client), scenario)
    assert b"nope" not in after
    assert b'model="unknown"' in after
    assert len(after) < len(before) + 4_000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"why": 5}, "why"),
        ({"why": "x" * 3_000}, "why"),
        ({"reason": "x"}, "reason"),
        ([1], "body"),
    ],
)
def test_admin_bodies_are_checked_by_field(sqlite_client: Client, body: Any, field: str) -> None:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await http.post("/v1/models/m/rollback", json=body),
            await http.post("/v1/rollouts/m/promote", json=body),
        ]

    for answer in talk(gateway(sqlite_client), scenario):
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field


def test_integers_past_64_bits_are_seen_exactly_not_as_rounded_floats(
    sqlite_client: Client,
) -> None:
    example = frame().head().assign(a=[1, 2, 3, 4, 5])  # a: int64, b: double
    with prodml.start_run("fit", client=sqlite_client) as run:
        crown(sqlite_client, run.log_model(Constant(1), "m", example=example))

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        bodies = ['{"a": -9223372036854775809, "b": 0}', '{"a": 1, "b": 18446744073709551616}']
        headers = {"content-type": "application/json"}
        return [
            await http.post("/v1/models/m/predict", content=body, headers=headers)
            for body in bodies
        ]

    below, past = talk(gateway(sqlite_client), scenario)
    assert below.status_code == 422 and below.json()["field"] == "a"
    assert past.status_code == 422 and past.json()["field"] == "b"


def test_unsigned_records_need_a_field_and_names_that_differ_by_more_than_case(
    sqlite_client: Client,
) -> None:
    _unsigned_model(sqlite_client)

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await predict(http, body, name="u") for body in ({}, {"a": 1.0, "A": 2.0})]

    empty, twins = talk(gateway(sqlite_client, ("u",), allow_unsigned=True), scenario)
    assert empty.status_code == 422 and empty.json()["field"] == "records[0]"
    assert twins.status_code == 422 and "differ only by case" in twins.json()["error"]


def test_a_tensor_model_answers_infer_requests_nested_or_flat(sqlite_client: Client) -> None:
    _tensor_model(sqlite_client)
    tensor = {"name": "x", "shape": [2, 3], "datatype": "FP64"}
    nested = {"inputs": [{**tensor, "data": [[1, 2, 3], [4, 5, 6]]}]}
    flat = {"inputs": [{**tensor, "data": [1, 2, 3, 4, 5, 6]}]}

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.post("/v2/models/t/infer", json=body) for body in (nested, flat)]

    for answer in talk(gateway(sqlite_client, ("t",)), scenario):
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"][0]["data"] == [6.0, 15.0]
