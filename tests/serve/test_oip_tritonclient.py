"""Triton's own HTTP client (``tritonclient[http]``) against a real gateway: JSON and
binary tensors, one tensor per column and one 2-D tensor, binary outputs, class
probabilities, text in and out, model metadata and readiness per version."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from oip_store import rows, served, text_model, texts
from serving_helpers import classifier
from tritonclient.utils import InferenceServerException

import prodml
from prodml.client import Client


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oip")


@pytest.fixture(scope="module")
def url(folder: Path) -> Iterator[str]:
    with served(folder) as address:
        yield address


@pytest.fixture
def store(folder: Path) -> Path:
    return folder / "home"


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[triton.InferenceServerClient]:
    made = triton.InferenceServerClient(url.removeprefix("http://"))
    yield made
    made.close()


def _columns(data: np.ndarray, binary: bool) -> list[triton.InferInput]:
    inputs = []
    for index, name in enumerate(("a", "b")):
        column = np.ascontiguousarray(data[:, index])
        tensor = triton.InferInput(name, list(column.shape), "FP64")
        tensor.set_data_from_numpy(column, binary_data=binary)
        inputs.append(tensor)
    return inputs


def _table(data: np.ndarray, datatype: str, binary: bool) -> list[triton.InferInput]:
    tensor = triton.InferInput("input-0", list(data.shape), datatype)
    tensor.set_data_from_numpy(data, binary_data=binary)
    return [tensor]


def _expected(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    model = classifier()
    import pandas as pd

    frame = pd.DataFrame(data, columns=["a", "b"])
    return model.predict(frame), model.predict_proba(frame)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_named_column_tensors_are_answered_with_labels_and_probabilities(
    client: triton.InferenceServerClient, binary: bool
) -> None:
    data = rows(6)
    result = client.infer("m", _columns(data, binary), request_id="cols-1")

    labels, proba = _expected(data)
    answer = result.get_response()
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("m", "2", "cols-1")
    assert result.as_numpy("predict").dtype == np.int64
    assert result.as_numpy("predict").tolist() == labels.tolist()
    assert result.as_numpy("probabilities").shape == (6, 2)
    np.testing.assert_allclose(result.as_numpy("probabilities"), proba)
    by_name = {output["name"]: output for output in answer["outputs"]}
    assert by_name["predict"]["datatype"] == "INT64"
    assert by_name["probabilities"]["parameters"]["classes"] == [0, 1]


@pytest.mark.parametrize(
    ("datatype", "binary"),
    [("FP64", True), ("FP32", True), ("FP64", False)],
    ids=["fp64-binary", "fp32-binary", "fp64-json"],
)
def test_one_2d_tensor_is_read_as_the_signature_columns_in_order(
    client: triton.InferenceServerClient, datatype: str, binary: bool
) -> None:
    data = rows(8).astype(np.float32 if datatype == "FP32" else np.float64)
    wanted = [triton.InferRequestedOutput("predict", binary_data=binary)]
    result = client.infer("m", _table(data, datatype, binary), outputs=wanted)

    labels, _ = _expected(data.astype(np.float64))
    assert result.as_numpy("predict").tolist() == labels.tolist()
    assert [output["name"] for output in result.get_response()["outputs"]] == ["predict"]


def test_binary_outputs_come_back_binary_and_json_ones_as_json(
    client: triton.InferenceServerClient,
) -> None:
    data = rows(4)
    wanted = [
        triton.InferRequestedOutput("predict", binary_data=False),
        triton.InferRequestedOutput("probabilities", binary_data=True),
    ]
    result = client.infer("m", _table(data, "FP64", True), outputs=wanted)

    outputs = {output["name"]: output for output in result.get_response()["outputs"]}
    assert outputs["predict"]["data"] == _expected(data)[0].tolist()
    assert outputs["probabilities"]["parameters"]["binary_data_size"] == 4 * 2 * 8
    assert "data" not in outputs["probabilities"]
    np.testing.assert_allclose(result.as_numpy("probabilities"), _expected(data)[1])


def test_text_goes_in_and_out_as_bytes_tensors(client: triton.InferenceServerClient) -> None:
    frame = texts().head(6)
    number = triton.InferInput("x", [6], "FP64")
    number.set_data_from_numpy(frame["x"].to_numpy())
    city = triton.InferInput("city", [6], "BYTES")
    city.set_data_from_numpy(frame["city"].to_numpy().astype(np.object_))
    result = client.infer("t", [number, city])

    labels = result.as_numpy("predict")
    assert [label.decode() for label in labels] == text_model().predict(frame).tolist()
    metadata = client.get_model_metadata("t")
    assert metadata["inputs"] == [
        {"name": "x", "datatype": "FP64", "shape": [-1]},
        {"name": "city", "datatype": "BYTES", "shape": [-1]},
    ]
    assert metadata["outputs"][0] == {"name": "predict", "datatype": "BYTES", "shape": [-1]}


def test_metadata_declares_the_outputs_as_they_are_answered(
    client: triton.InferenceServerClient,
) -> None:
    metadata = client.get_model_metadata("m")

    assert metadata["versions"] == ["2", "1"]
    assert metadata["inputs"] == [
        {"name": "a", "datatype": "FP64", "shape": [-1]},
        {"name": "b", "datatype": "FP64", "shape": [-1]},
    ]
    assert metadata["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]


def test_each_served_version_has_its_metadata_readiness_and_infer(
    client: triton.InferenceServerClient,
) -> None:
    first = client.get_model_metadata("m", "1")
    result = client.infer("m", _columns(rows(3), True), model_version="1")

    assert first["versions"] == ["1"]
    assert first["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("m") and client.is_model_ready("m", "1")
    assert not client.is_model_ready("m", "7")
    assert result.get_response()["model_version"] == "1"
    assert result.as_numpy("predict").tolist() == [7.0, 7.0, 7.0]


def test_a_version_that_is_not_served_is_a_404_naming_the_served_ones(
    client: triton.InferenceServerClient, url: str
) -> None:
    with pytest.raises(InferenceServerException) as refused:
        client.infer("m", _columns(rows(2), True), model_version="7")
    with pytest.raises(InferenceServerException) as missing:
        client.get_model_metadata("m", "7")

    for error in (refused.value, missing.value):
        assert "does not serve version '7' of model 'm'" in error.message()
        assert "version(s): 2, 1" in error.message()
        assert error.status() == "404"


def test_a_2d_tensor_of_the_wrong_width_is_refused_naming_the_columns(
    client: triton.InferenceServerClient,
) -> None:
    data = np.ones((3, 3))
    with pytest.raises(InferenceServerException) as refused:
        client.infer("m", _table(data, "FP64", True))

    assert "takes 2 columns in this order: a, b" in refused.value.message()
    assert refused.value.status() == "422"


def test_a_request_naming_a_version_is_logged_as_pinned_outside_any_rollout(
    client: triton.InferenceServerClient, store: Path
) -> None:
    client.infer("m", _columns(rows(2), True), model_version="1", request_id="pinned-1")
    sql = "SELECT variant, version, rollout_id FROM predictions WHERE request_id LIKE 'pinned-1/%'"

    logged: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30  # the gateway writes its log every second
    reader = Client(home=str(store), user="tester")
    try:
        while not logged and time.monotonic() < deadline:
            time.sleep(0.3)
            logged = prodml.query_predictions(sql, client=reader).to_pylist()
    finally:
        reader.close()
    assert logged == [{"variant": "pinned", "version": 1, "rollout_id": None}] * 2
