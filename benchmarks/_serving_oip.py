"""The gateway's Open Inference Protocol v2 path as ``serving.py`` measures it: the
request tritonclient builds for one row (one [1, k] FP64 tensor as binary data
after the JSON header, the ``predict`` output asked for as binary), its answer
checked against the JSON ``/v1`` path's, and the ratio reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _serving_load import BenchmarkFailure, Figures, Servers, load, wait_ready
from _serving_ratios import Ratio

OIP_VS_JSON_GOAL = 0.8  # requests/s of binary OIP v2 against the JSON /v1 path
OIP_RATIO = Ratio(
    "requests/s, OIP v2 binary tensors (tritonclient's request) / JSON /v1 (wrk)",
    "oip", "base", "rate", f">= {OIP_VS_JSON_GOAL}", lambda value: value >= OIP_VS_JSON_GOAL,
)  # fmt: skip


def oip_request(record: dict[str, float], features: list[str]) -> tuple[bytes, dict[str, str]]:
    """The body and header tritonclient sends for one row (its own code builds them)."""
    import numpy as np
    import tritonclient.http as triton

    row = np.array([[record[feature] for feature in features]], dtype=np.float64)
    tensor = triton.InferInput("input-0", list(row.shape), "FP64")
    tensor.set_data_from_numpy(row, binary_data=True)
    wanted = [triton.InferRequestedOutput("predict", binary_data=True)]
    body, length = triton.InferenceServerClient.generate_request_body([tensor], outputs=wanted)
    return body, {"Inference-Header-Content-Length": str(length)}


def measure_binary_path(
    servers: Servers,
    url: str,
    request: tuple[bytes, dict[str, str]],
    expected: list[Any],
    timing: tuple[int, Path, int, int],
) -> Figures:
    """The binary OIP v2 path of a gateway also measured on /v1: the same answer,
    then the same load. ``timing``: seconds, workdir, the server's process group
    and the warm-up seconds."""
    body, headers = request
    answer = wait_ready(servers, "prodml", url, body, headers=headers)
    head, end = json.JSONDecoder().raw_decode(answer.decode("latin-1"))
    label = int.from_bytes(answer[end : end + 8], "little", signed=True)
    print(f"prodml-oip answers: {json.dumps(head)} then {label} as 8 raw bytes")
    if [label] != expected:
        raise BenchmarkFailure(f"the OIP path answered {label}, the /v1 path {expected}")
    seconds, workdir, group, warmup = timing
    return load("prodml-oip", url, body, seconds, workdir, group, warmup, headers)
