"""Calls to a gateway made with KServe's own REST client, ``kserve.InferenceRESTClient``
(kserve 0.21), protocols v1 and v2. Run by the interpreter of the kserve venv
(``kserve_venv.py``), not by the project's::

    <kserve venv>/bin/python -I kserve_calls.py BASE_URL ROWS_JSON

ROWS_JSON is a list of [a, b] rows. Prints one JSON object: each call's name to
``{"value": ...}`` (what the client returned) or ``{"error": {...}}`` (the exception
it raised: type, message, and the HTTP status and body when there was a response)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from typing import Any

import httpx
import numpy as np
from kserve import (  # type: ignore[import-not-found,unused-ignore]
    InferenceRESTClient,
    InferInput,
    InferRequest,
    RESTConfig,
)
from kserve.protocol.infer_type import (  # type: ignore[import-not-found,unused-ignore]
    RequestedOutput,
)

OUTPUTS = ("predict", "probabilities")
HEADER_LENGTH = "inference-header-content-length"


async def caught(work: Awaitable[Any]) -> dict[str, Any]:
    """What the call answered, or what it raised."""
    try:
        return {"value": await work}
    except Exception as error:
        raised: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
        response = getattr(error, "response", None)
        if isinstance(response, httpx.Response):
            raised.update(status=response.status_code, body=response.text)
        return {"error": raised}


async def infer_v2(client: Any, url: str, data: np.ndarray, binary: bool) -> dict[str, Any]:
    """One [N, 2] FP64 tensor, both outputs requested in the same form (JSON or binary)
    as the input; the answer as the client reads it."""
    tensor = InferInput("input-0", list(data.shape), "FP64")
    tensor.set_data_from_numpy(data, binary_data=binary)
    wanted = [RequestedOutput(name, parameters={"binary_data": binary}) for name in OUTPUTS]
    form = "binary" if binary else "json"
    request = InferRequest("m", [tensor], request_id=f"kserve-{form}", request_outputs=wanted)
    headers: dict[str, str] = {}
    response = await client.infer(url, request, model_name="m", response_headers=headers)
    outputs = {}
    for output in response.outputs:
        values = output.as_numpy()
        outputs[output.name] = {
            "datatype": output.datatype,
            "shape": list(output.shape),
            "dtype": str(values.dtype),
            "values": values.tolist(),
        }
    return {
        "model_name": response.model_name,
        "id": response.id,
        "binary_header": HEADER_LENGTH in headers,
        "outputs": outputs,
    }


async def v1(url: str, data: np.ndarray) -> dict[str, Any]:
    client = InferenceRESTClient(config=RESTConfig(protocol="v1", timeout=30))
    try:
        return {
            "v1_server_live": await caught(client.is_server_live(url)),
            "v1_model_ready_m": await caught(client.is_model_ready(url, "m")),
            "v1_model_ready_x": await caught(client.is_model_ready(url, "x")),
            "v1_infer": await caught(
                client.infer(url, {"instances": data.tolist()}, model_name="m")
            ),
            "v1_infer_without_instances": await caught(
                client.infer(url, {"inputs": data.tolist()}, model_name="m")
            ),
            "v1_infer_x": await caught(
                client.infer(url, {"instances": data.tolist()}, model_name="x")
            ),
        }
    finally:
        await client.close()


async def v2(url: str, data: np.ndarray) -> dict[str, Any]:
    client = InferenceRESTClient(config=RESTConfig(protocol="v2", timeout=30))
    try:
        return {
            "v2_server_live": await caught(client.is_server_live(url)),
            "v2_server_ready": await caught(client.is_server_ready(url)),
            "v2_model_ready_m": await caught(client.is_model_ready(url, "m")),
            "v2_model_ready_x": await caught(client.is_model_ready(url, "x")),
            "v2_infer_json": await caught(infer_v2(client, url, data, binary=False)),
            "v2_infer_binary": await caught(infer_v2(client, url, data, binary=True)),
        }
    finally:
        await client.close()


async def main(url: str, data: np.ndarray) -> dict[str, Any]:
    return {**await v1(url, data), **await v2(url, data)}


if __name__ == "__main__":
    base_url, rows = sys.argv[1], np.asarray(json.loads(sys.argv[2]), dtype=np.float64)
    json.dump(asyncio.run(main(base_url, rows)), sys.stdout)
