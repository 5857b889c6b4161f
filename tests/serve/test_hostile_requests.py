"""Requests a careless or hostile client sends, on a real uvicorn server over real
sockets: each gets a JSON refusal naming its field, never a 500, and the server goes on
answering the good requests (on the same connection where one is kept)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from serving_helpers import Constant, crown, gateway, log_versions, served

from prodml.client import Client

ROW = {"a": 0.5, "b": -0.5}
TENSORS = [{"name": "a", "data": [0.5]}, {"name": "b", "data": [-0.5]}]


@pytest.fixture
def url(sqlite_client: Client) -> Iterator[str]:
    for name, answer in (("m", 1), ("team/churn", 2)):
        crown(sqlite_client, log_versions(sqlite_client, Constant(answer), name=name)[0])
    app = gateway(sqlite_client, ("m", "team/churn"), body_seconds=0.5)
    with served(app) as port:
        yield f"http://127.0.0.1:{port}"


def test_a_header_of_unicode_digits_is_refused_and_the_connection_serves_on(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        for value in ("\u00b2", "1\u00b9"):  # "²": str.isdigit() says yes, int() refuses
            refused = http.post(
                "/v2/models/m/infer",
                json={"inputs": TENSORS},
                headers={"Inference-Header-Content-Length": value.encode("latin-1")},
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["field"] == "inference-header-content-length"
        answered = http.post("/v1/models/m/predict", json=ROW)  # the same connection
    assert answered.status_code == 200
    assert answered.json()["predictions"] == [1]


def test_a_model_whose_name_holds_a_slash_is_served_on_every_protocol(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        for path in ("/v1/models/team/churn/predict", "/v1/models/team%2Fchurn/predict"):
            own = http.post(path, json=ROW)
            assert own.status_code == 200, (path, own.text)
            assert own.json()["model"] == "team/churn"
            assert own.json()["predictions"] == [2]
        oip = http.post("/v2/models/team/churn/infer", json={"inputs": TENSORS})
        assert oip.status_code == 200, oip.text
        assert oip.json()["model_name"] == "team/churn"
        pinned = http.post("/v2/models/team/churn/versions/1/infer", json={"inputs": TENSORS})
        assert pinned.status_code == 200, pinned.text
        kserve = http.post("/v1/models/team/churn:predict", json={"instances": [ROW]})
        assert kserve.status_code == 200, kserve.text
        assert kserve.json()["predictions"] == [2]
        metadata = http.get("/v2/models/team/churn")
        assert metadata.status_code == 200 and metadata.json()["name"] == "team/churn"
        assert http.get("/v2/models/team/churn/ready").json()["ready"] is True
        assert http.get("/v2/models/team/churn/versions/1/ready").json()["ready"] is True
        assert http.get("/v1/models/team/churn").json()["ready"] is True
        assert http.post("/v1/models/m/predict", json=ROW).json()["predictions"] == [1]


def test_unknown_paths_and_methods_are_refused_in_json(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        missing = http.get("/nowhere")
        wrong_method = http.delete("/v1/models/m/predict")
        long_name = http.post(f"/v1/models/{'a' * 8_000}/predict", json=ROW)
    assert missing.status_code == 404
    assert missing.json()["kind"] == "NotFound"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["kind"] == "MethodNotAllowed"
    assert wrong_method.headers["allow"] == "POST"
    assert long_name.status_code == 404
    assert len(long_name.json()["error"]) < 300  # the name is cut, with its length said
    assert "8,000 characters" in long_name.json()["error"]


def test_an_input_sent_twice_is_refused_by_its_index(url: str) -> None:
    body = {"inputs": [TENSORS[0], {"name": "a", "data": [2.0]}, TENSORS[1]]}
    refused = httpx.post(f"{url}/v2/models/m/infer", json=body, timeout=10)
    assert refused.status_code == 422
    assert refused.json()["field"] == "inputs[1].name"


def _partial(port: int, path: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n".encode()
        + b'{"a":'
    )
    return conn


def test_a_body_that_does_not_arrive_in_time_is_answered_408(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    started = time.monotonic()
    with _partial(port, "/v1/models/m/predict") as conn:
        answer = conn.recv(65_536)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"field":"body"' in answer
    assert time.monotonic() - started < 5  # the gateway's deadline is 0.5 s here
    assert httpx.post(f"{url}/v1/models/m/predict", json=ROW, timeout=10).status_code == 200


def test_a_client_that_leaves_mid_body_is_counted_not_crashed(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    for _ in range(3):
        _partial(port, "/v1/models/m/predict").close()
    deadline = time.monotonic() + 10
    metrics = ""
    while 'status="499"' not in metrics and time.monotonic() < deadline:
        time.sleep(0.1)
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
    counted = [line for line in metrics.splitlines() if 'status="499"' in line]
    assert counted, "a client leaving mid-body was not counted"
    assert not [line for line in metrics.splitlines() if 'status="500"' in line]
