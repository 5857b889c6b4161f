"""Hostile binary bodies sent to a real gateway: each is refused with a 4xx naming the
field at fault (never a 5xx, never a hang), and refusing one request leaves those
sent beside it answered."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from oip_store import rows, served

HEADER = "inference-header-content-length"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("binary")) as address:
        yield address


def _body(inputs: list[dict[str, Any]], raw: bytes, **extra: Any) -> tuple[bytes, dict[str, str]]:
    header = json.dumps({"inputs": inputs, **extra}).encode()
    return header + raw, {HEADER: str(len(header)), "content-type": "application/octet-stream"}


def _table(shape: list[int], size: int, datatype: str = "FP64") -> dict[str, Any]:
    parameters = {"binary_data_size": size}
    return {"name": "input-0", "shape": shape, "datatype": datatype, "parameters": parameters}


GOOD = rows(3).tobytes()
FLAG = {"binary_data": 1}


def _strings(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def _city(raw: bytes, count: int = 2) -> tuple[bytes, dict[str, str]]:
    numbers = np.zeros(count).tobytes()
    inputs = [
        {"name": "x", "shape": [count], "datatype": "FP64",
         "parameters": {"binary_data_size": len(numbers)}},
        {"name": "city", "shape": [count], "datatype": "BYTES",
         "parameters": {"binary_data_size": len(raw)}},
    ]  # fmt: skip
    return _body(inputs, numbers + raw)


def _sent_header(value: str) -> tuple[bytes, dict[str, str]]:
    body, headers = _body([_table([3, 2], len(GOOD))], GOOD)
    return body, {**headers, HEADER: value}


HOSTILE: dict[str, tuple[str, tuple[bytes, dict[str, str]], str, int]] = {
    "header length past the body": ("m", _sent_header("99999"), HEADER, 400),
    "negative header length": ("m", _sent_header("-5"), HEADER, 400),
    "header length not a number": ("m", _sent_header("12abc"), HEADER, 400),
    "huge header length": ("m", _sent_header("9" * 40), HEADER, 400),
    "header cutting the JSON": ("m", _sent_header("10"), "body", 400),
    "negative binary size": (
        "m", _body([_table([3, 2], -48)], GOOD), "inputs[0].parameters.binary_data_size", 422,
    ),
    "huge binary size": (
        "m", _body([_table([3, 2], 1 << 62)], GOOD), "inputs[0].parameters.binary_data_size", 400,
    ),
    "binary size not a number": (
        "m", _body([{**_table([3, 2], 0), "parameters": {"binary_data_size": "48"}}], GOOD),
        "inputs[0].parameters.binary_data_size", 422,
    ),
    "bytes past every binary size": ("m", _body([_table([3, 2], 40)], GOOD), HEADER, 400),
    "shape and bytes disagree": (
        "m", _body([_table([4, 2], 48)], GOOD), "inputs[0].parameters.binary_data_size", 422,
    ),
    "huge shape": ("m", _body([_table([1 << 40, 2], 48)], GOOD), "inputs[0].shape", 413),
    "negative shape": ("m", _body([_table([-3, 2], 48)], GOOD), "inputs[0].shape", 422),
    "three dimensions": ("m", _body([_table([3, 2, 1], 48)], GOOD), "inputs[0].shape", 422),
    "no shape": (
        "m", _body([{k: v for k, v in _table([3, 2], 48).items() if k != "shape"}], GOOD),
        "inputs[0].shape", 422,
    ),
    "unknown datatype": (
        "m", _body([_table([3, 2], 48, "FP128")], GOOD), "inputs[0].datatype", 422,
    ),
    "data and binary both": (
        "m", _body([{**_table([3, 2], 48), "data": [1.0] * 6}], GOOD), "inputs[0].data", 422,
    ),
    "NaN in a number column": (
        "m", _body([_table([1, 2], 16)], np.array([np.nan, 1.0]).tobytes()), "a", 422,
    ),
    "wrong width": ("m", _body([_table([2, 3], 48)], GOOD), "inputs[0].shape", 422),
    "BYTES length running off the end": (
        "t", _city(struct.pack("<I", 1000) + b"oslo"), "inputs[1].parameters.binary_data_size",
        422,
    ),
    "BYTES length cut short": (
        "t", _city(_strings(b"oslo") + b"\x01\x00"), "inputs[1].parameters.binary_data_size",
        422,
    ),
    "fewer BYTES than the shape": (
        "t", _city(_strings(b"oslo")), "inputs[1].parameters.binary_data_size", 422,
    ),
    "more BYTES than the shape": (
        "t", _city(_strings(b"oslo", b"lima", b"kyiv")),
        "inputs[1].parameters.binary_data_size", 422,
    ),
    "BYTES that are not UTF-8": ("t", _city(_strings(b"oslo", b"\xff\xfe")), "inputs[1][1]", 422),
    "unknown output": (
        "m", _body([_table([3, 2], 48)], GOOD, outputs=[{"name": "scores"}]),
        "outputs[0].name", 422,
    ),
    "binary_data_output not a flag": (
        "m", _body([_table([3, 2], 48)], GOOD, parameters={"binary_data_output": "yes"}),
        "parameters.binary_data_output", 422,
    ),
    "output binary_data not a flag": (
        "m", _body([_table([3, 2], 48)], GOOD, outputs=[{"name": "predict", "parameters": FLAG}]),
        "outputs[0].parameters.binary_data", 422,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_binary_body_is_refused_naming_the_field(url: str, case: str) -> None:
    model, (body, headers), field, status = HOSTILE[case]
    response = httpx.post(
        f"{url}/v2/models/{model}/infer", content=body, headers=headers, timeout=10
    )

    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["field"] == field, payload
    assert payload["kind"] == "Rejected" and payload["error"]


def test_a_compressed_body_is_refused_naming_the_encoding(url: str) -> None:
    body, headers = _body([_table([3, 2], 48)], GOOD)
    headers["content-encoding"] = "gzip"
    response = httpx.post(f"{url}/v2/models/m/infer", content=body, headers=headers, timeout=10)

    assert response.status_code == 415
    assert response.json()["field"] == "content-encoding"


def test_a_refused_binary_request_leaves_the_ones_beside_it_answered(url: str) -> None:
    good = _body([_table([3, 2], 48)], GOOD)
    bad = [case[1] for case in HOSTILE.values() if case[0] == "m"]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            sent = [good, *bad] * 3
            return await asyncio.gather(
                *(http.post("/v2/models/m/infer", content=b, headers=h) for b, h in sent)
            )

    responses = asyncio.run(burst())

    statuses = [response.status_code for response in responses]
    per_round = len(bad) + 1
    for start in range(0, len(statuses), per_round):
        assert statuses[start] == 200, responses[start].text
        assert all(400 <= status < 500 for status in statuses[start + 1 : start + per_round])


def test_a_binary_answer_splits_at_its_own_header_length(url: str) -> None:
    body, headers = _body([_table([3, 2], 48)], GOOD, parameters={"binary_data_output": True})
    response = httpx.post(f"{url}/v2/models/m/infer", content=body, headers=headers, timeout=10)

    length = int(response.headers[HEADER])
    head = json.loads(response.content[:length])
    sizes = [output["parameters"]["binary_data_size"] for output in head["outputs"]]
    assert [output["name"] for output in head["outputs"]] == ["predict", "probabilities"]
    assert sizes == [3 * 8, 3 * 2 * 8]
    assert len(response.content) == length + sum(sizes)
    assert response.headers["content-type"] == "application/octet-stream"
    labels = np.frombuffer(response.content[length : length + 24], "<i8")
    assert labels.tolist() == [int(v) for v in _labels()]


def _labels() -> list[int]:
    import pandas as pd
    from serving_helpers import classifier

    labels: list[int] = classifier().predict(pd.DataFrame(rows(3), columns=["a", "b"])).tolist()
    return labels
