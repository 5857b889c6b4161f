"""KServe's protocols against a real gateway, sent as KServe's ``InferenceRESTClient``
(kserve 0.21) sends them, byte for byte: orjson bodies, its content types, the
``inference-header-content-length`` of a binary request, and its URLs. The kserve
package itself is not a test dependency (it pins pandas below 3 and brings in the
Kubernetes client, grpcio and FastAPI): ``test_kserve_client.py`` runs the client
from a venv of its own. The requests below were captured from that client talking
to this gateway.

v1: ``GET /`` (live), ``GET /v1/models/{name}`` (ready), ``POST
/v1/models/{name}:predict``; v2: the Open Inference Protocol, JSON and binary.
prodml's own ``/v1/models/{name}/predict`` answers beside them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from oip_store import rows, served
from serving_helpers import classifier

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        served(tmp_path_factory.mktemp("kserve")) as url,
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        yield client


def _expected(data: np.ndarray) -> tuple[list[int], np.ndarray]:
    frame = pd.DataFrame(data, columns=["a", "b"])
    return classifier().predict(frame).tolist(), classifier().predict_proba(frame)


def test_v1_liveness_and_readiness_as_the_client_reads_them(http: httpx.Client) -> None:
    live, ready, unknown = http.get("/"), http.get("/v1/models/m"), http.get("/v1/models/x")

    assert live.json()["status"].lower() == "alive"
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert unknown.status_code == 404


def test_v1_predict_takes_instances_as_records_or_lists_in_column_order(
    http: httpx.Client,
) -> None:
    data = rows(4)
    records = [{"a": a, "b": b} for a, b in data.tolist()]
    as_records = http.post(
        "/v1/models/m:predict", content=orjson.dumps({"instances": records}), headers=JSON
    )
    as_lists = http.post(
        "/v1/models/m:predict", content=orjson.dumps({"instances": data.tolist()}), headers=JSON
    )

    labels, _ = _expected(data)
    assert orjson.loads(as_records.content) == {"predictions": labels}
    assert orjson.loads(as_lists.content) == {"predictions": labels}


def test_prodml_s_own_v1_routes_answer_beside_kserve_s(http: httpx.Client) -> None:
    own = http.post("/v1/models/m/predict", json={"a": 0.5, "b": -0.5})
    listed = http.get("/v1/models")

    assert own.json()["model"] == "m" and own.json()["version"] == 2
    assert set(listed.json()) == {"m", "t"}


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"instances": [[0.5, -0.5], [1.0]]}, "instances[1]", 422),
        ({"instances": []}, "instances", 422),
        ({"inputs": [[0.5, -0.5]]}, "instances", 422),
        ({"instances": [{"a": 1.0}]}, "b", 422),
        ({"instances": [[0.5, -0.5]] * 10_001}, "instances", 413),
    ],
    ids=["short list", "none", "no instances", "missing field", "too many"],
)
def test_a_malformed_v1_request_is_refused_naming_the_field(
    http: httpx.Client, body: Any, field: str, status: int
) -> None:
    response = http.post("/v1/models/m:predict", content=orjson.dumps(body), headers=JSON)

    assert response.status_code == status, response.text
    assert response.json()["field"] == field


def test_v1_predict_of_a_model_not_served_is_404(http: httpx.Client) -> None:
    body = orjson.dumps({"instances": [[0.5, -0.5]]})
    response = http.post("/v1/models/x:predict", content=body, headers=JSON)

    assert response.status_code == 404
    assert "does not serve model 'x'" in response.json()["error"]


def _v2_request(data: np.ndarray, binary: bool) -> tuple[bytes, dict[str, str]]:
    """``InferRequest.to_rest`` of one [N, 2] FP64 input and both outputs requested."""
    tensor: dict[str, Any] = {"name": "input-0", "shape": list(data.shape), "datatype": "FP64"}
    if binary:
        tensor["parameters"] = {"binary_data_size": data.nbytes}
    else:
        tensor["data"] = data.ravel().tolist()
    outputs = [
        {"name": name, "parameters": {"binary_data": binary}}
        for name in ("predict", "probabilities")
    ]
    header = orjson.dumps({"id": "k1", "model_name": "m", "inputs": [tensor], "outputs": outputs})
    if not binary:
        return header, JSON
    sent = {"inference-header-content-length": str(len(header))}
    return header + data.tobytes(), {**sent, "content-type": "application/octet-stream"}


def _outputs(response: httpx.Response) -> dict[str, np.ndarray]:
    """What ``InferResponse.from_bytes`` reads: the JSON header, then each binary
    output's bytes in order."""
    length = int(response.headers.get("inference-header-content-length", len(response.content)))
    head = orjson.loads(response.content[:length])
    offset, read = length, {}
    for output in head["outputs"]:
        dtype = {"INT64": "<i8", "FP64": "<f8"}[output["datatype"]]
        size = (output.get("parameters") or {}).get("binary_data_size")
        if size is None:
            values = np.asarray(output["data"], dtype=dtype)
        else:
            values = np.frombuffer(response.content[offset : offset + size], dtype=dtype)
            offset += size
        read[output["name"]] = values.reshape(output["shape"])
    assert offset == len(response.content)
    return read


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_v2_infer_as_the_kserve_client_sends_it(http: httpx.Client, binary: bool) -> None:
    data = rows(5)
    body, headers = _v2_request(data, binary)
    response = http.post("/v2/models/m/infer", content=body, headers=headers)

    assert response.status_code == 200, response.text
    outputs = _outputs(response)
    labels, proba = _expected(data)
    assert outputs["predict"].tolist() == labels
    np.testing.assert_allclose(outputs["probabilities"], proba)


def test_v2_readiness_as_the_kserve_client_reads_it(http: httpx.Client) -> None:
    assert http.get("/v2/health/live").json()["live"] is True
    assert http.get("/v2/health/ready").json()["ready"] is True
    assert http.get("/v2/models/m/ready").is_success
    assert not http.get("/v2/models/x/ready").is_success
