"""The gateway as a client sees it: answers from the champion in every body shape,
refusals that name what is wrong, the Open Inference Protocol, metrics and OpenAPI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from serving_helpers import classifier, crown, frame, gateway, log_versions, predict, row, talk

from prodml.client import Client


@pytest.fixture
def served(client: Client) -> Client:
    """Model ``m``: v1 a logistic regression on a and b, the champion (on each database)."""
    (first,) = log_versions(client, classifier())
    crown(client, first)
    return client


@pytest.fixture
def local(sqlite_client: Client) -> Client:
    """The same on SQLite only, for what does not depend on the database."""
    (first,) = log_versions(sqlite_client, classifier())
    crown(sqlite_client, first)
    return sqlite_client


def _expected(rows: list[dict[str, float]]) -> list[int]:
    import pandas as pd

    return [int(v) for v in classifier().predict(pd.DataFrame(rows)[["a", "b"]])]


def test_predict_answers_with_the_champion_in_every_body_shape(served: Client) -> None:
    rows = frame().head(5)[["a", "b"]].to_dict("records")
    bodies: dict[str, Any] = {
        "one record": rows[0],
        "records": {"records": rows},
        "instances": {"instances": rows},
        "list": rows,
        "columns": {"columns": {"a": [r["a"] for r in rows], "b": [r["b"] for r in rows]}},
    }

    async def scenario(http: httpx.AsyncClient) -> dict[str, httpx.Response]:
        return {shape: await predict(http, body) for shape, body in bodies.items()}

    answers = talk(gateway(served), scenario)

    for shape, response in answers.items():
        assert response.status_code == 200, (shape, response.text)
        payload = response.json()
        wanted = _expected(rows[:1] if shape == "one record" else rows)
        assert payload["predictions"] == wanted, shape
        assert (payload["model"], payload["version"]) == ("m", 1)
        assert (payload["variant"], payload["fallback"]) == ("champion", None)
        assert response.headers["x-request-id"] == payload["request_id"]


def test_a_request_id_sent_by_the_caller_is_kept(local: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> httpx.Response:
        return await predict(http, row(), headers={"x-request-id": "order-17"})

    response = talk(gateway(local), scenario)

    assert response.json()["request_id"] == "order-17"
    assert response.headers["x-request-id"] == "order-17"


MALFORMED: list[tuple[Any, str, str]] = [
    ({"a": 1.0}, "b", "lacks field 'b'"),
    ({"records": [row(), {"a": 1.0}]}, "b", "Row 1 lacks field 'b'"),
    ({"a": "fast", "b": 1.0}, "a", "expects a number"),
    ({"records": []}, "records", "no rows"),
    ({"records": "not a list"}, "records", "must be a list"),
    ({"columns": {"a": [1.0, 2.0], "b": [1.0]}}, "columns", "all of one length"),
    ([1, 2], "records[0]", "must be an object"),
    ("just text", "body", "JSON object or a list"),
]


def test_a_malformed_request_is_refused_with_422_naming_the_field(local: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await predict(http, body) for body, _, _ in MALFORMED]

    responses = talk(gateway(local), scenario)

    for (body, field, words), response in zip(MALFORMED, responses, strict=True):
        assert response.status_code == 422, body
        payload = response.json()
        assert payload["field"] == field, body
        assert words in payload["error"], body


def test_invalid_json_is_400_and_an_oversized_body_is_413(local: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        broken = await http.post("/v1/models/m/predict", content=b'{"a": 1.0,')
        big = await predict(http, {"records": [row()] * 20})
        return broken, big

    broken, big = talk(gateway(local, max_body=200), scenario)

    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["error"]
    assert big.status_code == 413
    assert "the limit is 200" in big.json()["error"]


def test_an_unknown_model_is_404_naming_the_served_ones(served: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        return await predict(http, row(), name="churn"), await http.get("/v2/models/churn")

    for response in talk(gateway(served), scenario):
        assert response.status_code == 404
        assert "does not serve model 'churn'; it serves: m" in response.json()["error"]


def test_open_inference_protocol_health_metadata_and_infer(local: Client) -> None:
    rows = frame().head(3)[["a", "b"]].to_dict("records")

    async def scenario(http: httpx.AsyncClient) -> dict[str, httpx.Response]:
        tensors = [
            {"name": n, "datatype": "FP64", "shape": [3], "data": [r[n] for r in rows]}
            for n in ("a", "b")
        ]
        return {
            "live": await http.get("/v2/health/live"),
            "ready": await http.get("/v2/health/ready"),
            "model_ready": await http.get("/v2/models/m/ready"),
            "metadata": await http.get("/v2/models/m"),
            "infer": await http.post("/v2/models/m/infer", json={"id": "q1", "inputs": tensors}),
            "nested": await http.post(
                "/v2/models/m/infer",
                json={
                    "inputs": [
                        {"name": t["name"], "data": [[v] for v in t["data"]]} for t in tensors
                    ]
                },
            ),
            "no_inputs": await http.post("/v2/models/m/infer", json={"id": "x"}),
        }

    got = talk(gateway(local), scenario)

    assert got["live"].json() == {"live": True}
    assert got["ready"].json()["ready"] is True
    assert got["model_ready"].status_code == 200
    metadata = got["metadata"].json()
    assert metadata["name"] == "m" and metadata["versions"] == ["1"]
    assert metadata["inputs"] == [
        {"name": "a", "datatype": "FP64", "shape": [-1]},
        {"name": "b", "datatype": "FP64", "shape": [-1]},
    ]
    infer = got["infer"].json()
    assert (infer["model_name"], infer["model_version"], infer["id"]) == ("m", "1", "q1")
    assert infer["outputs"][0]["data"] == _expected(rows)
    assert infer["outputs"][0]["shape"] == [3]
    assert got["nested"].json()["outputs"][0]["data"] == _expected(rows)
    assert got["no_inputs"].status_code == 422
    assert got["no_inputs"].json()["field"] == "inputs"


def test_metrics_count_requests_by_model_and_version_with_a_latency_histogram(
    local: Client,
) -> None:
    async def scenario(http: httpx.AsyncClient) -> str:
        for _ in range(3):
            assert (await predict(http, row())).status_code == 200
        return (await http.get("/metrics")).text

    text = talk(gateway(local), scenario)

    lines = text.splitlines()
    counted = [
        line
        for line in lines
        if line.startswith("prodml_requests_total{")
        and 'model="m"' in line
        and 'version="1"' in line
        and 'route="predict"' in line
    ]
    assert len(counted) == 1 and counted[0].endswith(" 3.0")
    assert any(
        line.startswith("prodml_request_seconds_bucket{")
        and 'le="+Inf"' in line
        and 'model="m"' in line
        and line.endswith(" 3.0")
        for line in lines
    )
    assert any(line.startswith("prodml_request_seconds_count{") for line in lines)


def test_openapi_lists_the_models_fields_as_required_properties(local: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> Any:
        return (await http.get("/openapi.json")).json()

    document = talk(gateway(local), scenario)

    operation = document["paths"]["/v1/models/m/predict"]["post"]
    record = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert record["required"] == ["a", "b"]
    assert record["properties"]["a"]["type"] == "number"
    assert {"200", "400", "404", "413", "422", "503"} <= set(operation["responses"])


def test_health_and_models_show_the_routing(served: Client) -> None:
    async def scenario(http: httpx.AsyncClient) -> tuple[Any, Any]:
        return (await http.get("/healthz")).json(), (await http.get("/v1/models")).json()

    health, models = talk(gateway(served), scenario)

    assert health["status"] == "ok" and health["error"] is None
    assert models == {"m": {"champion": 1, "previous": None, "rollout": None}}


def test_a_model_without_a_champion_is_refused_at_start(client: Client) -> None:
    log_versions(client, classifier())

    async def scenario(http: httpx.AsyncClient) -> None:
        raise AssertionError("the gateway must not start")

    from prodml.errors import NotFoundError

    with pytest.raises(NotFoundError, match="has no champion to serve"):
        talk(gateway(client), scenario)
