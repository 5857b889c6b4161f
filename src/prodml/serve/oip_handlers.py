"""The gateway's Open Inference Protocol (v2) routes: infer (JSON or binary tensors,
per model or per version), model metadata and readiness, per model and per version.

``/v2/models/{name}/infer`` is routed as every prediction is (a rollout's share,
the fallback chain); ``/v2/models/{name}/versions/{v}/infer`` is answered by that
version alone (``pinned.py``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prodml.errors import ProdmlError
from prodml.serve import bodies, oip, oip_binary, oip_outputs, pinned, values
from prodml.serve.gateway import Answer
from prodml.serve.handling import Handling
from prodml.serve.inputs import family
from prodml.serve.responses import json
from prodml.serve.routing import Route
from prodml.serve.served import Served

EXTENSIONS = ["binary_tensor_data"]
_NUMBERS = {
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "bool": "BOOL", "halffloat": "FP16", "float": "FP32", "double": "FP64",
}  # fmt: skip


class OipHandlers(Handling):
    async def infer(self, request: Request) -> Response:
        """Infer with the version routing assigns, or the one the path names."""
        name = request.path_params["name"]
        number = request.path_params.get("version")
        started = time.perf_counter()
        try:
            await self.allow(request, "predict")
            route = self.gateway.route(name)
            served = route.champion if number is None else pinned.version(route, number)
            inference, headers = await self._read(request, served)
            if number is None:
                done = await self.gateway.answer(name, inference.rows, headers, "infer")
            else:
                done = await pinned.answer(self.gateway, served, inference.rows, headers, "infer")
        except ProdmlError as error:
            self.refused(name, "infer", error, started)
            raise
        content, length = await self._answer(route, served, inference, done)
        elapsed = time.perf_counter() - started
        self.gateway.telemetry.observe(name, str(done.version), "infer", 200, elapsed)
        sent = {"x-request-id": done.request_id}
        if length is None:
            return Response(content, 200, sent, "application/json")
        sent[oip_binary.HEADER] = str(length)
        return Response(content, 200, sent, "application/octet-stream")

    async def _read(
        self, request: Request, served: Served
    ) -> tuple[oip.Inference, Mapping[str, str]]:
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise values.Rejected(
                f"The body is sent with Content-Encoding {encoding[:40]!r}; send it uncompressed.",
                "content-encoding",
                415,
            )
        raw = await bodies.read(request, *self.limits)
        body, rest = oip_binary.split(raw, request.headers.get(oip_binary.HEADER))
        headers: Mapping[str, str] = request.headers
        if isinstance(body, dict) and "id" in body:  # the header, when sent, wins
            named = values.request_id(body["id"], "id") or ""
            headers = {"x-request-id": named, **request.headers}
        inference = oip.read(body, rest, served.spec, oip_outputs.names(served))
        return inference, headers

    async def _answer(
        self, route: Route, asked: Served, inference: oip.Inference, done: Answer
    ) -> tuple[bytes, int | None]:
        answered = asked if done.version == asked.number else pinned.by_number(route, done.version)
        chosen = oip_outputs.wanted(
            inference.outputs, oip_outputs.names(answered or asked), inference.binary
        )
        outputs = []
        for requested in chosen:
            if requested.name == oip_outputs.PREDICT:
                output = oip_outputs.predict_output(done.answers, answered)
            else:
                output = await oip_outputs.probabilities(answered, inference.rows)
            outputs.append((output, requested.binary))
        head: dict[str, Any] = {
            "model_name": done.model,
            "model_version": None if done.version is None else str(done.version),
            "id": done.request_id,
        }
        if done.fallback is not None:
            head["parameters"] = {"fallback": done.fallback}
        return oip_outputs.body(head, outputs)

    async def metadata(self, request: Request) -> Response:
        route = self.gateway.route(request.path_params["name"])
        number = request.path_params.get("version")
        if number is None:
            return json(metadata(route.champion, pinned.versions(route)))
        served = pinned.version(route, number)
        return json(metadata(served, [served]))

    async def ready(self, request: Request) -> Response:
        """A model (or one version of it) is ready when this gateway serves it."""
        route = self.gateway.route(request.path_params["name"])
        number = request.path_params.get("version")
        if number is None:
            return json({"name": route.name, "ready": True})
        served = pinned.version(route, number)
        return json({"name": route.name, "version": str(served.number), "ready": True})

    async def server(self, request: Request) -> Response:
        return json({"name": "prodml", "version": "0.1.0", "extensions": EXTENSIONS})


def metadata(served: Served, listed: list[Served]) -> dict[str, Any]:
    """A version's inputs and outputs as the protocol's model metadata: one tensor per
    signature column (a 2-D tensor of all columns in order is taken too), or the one
    [N, width] tensor of a tensor model."""
    signature = served.version.signature or {}
    if served.spec.tensor:
        inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, served.spec.width]}]
    else:
        inputs = [
            {"name": c["name"], "datatype": input_datatype(c["type"]), "shape": [-1]}
            for c in signature.get("columns", [])
        ]
    return {
        "name": served.version.name,
        "versions": [str(s.number) for s in listed],
        "platform": served.version.flavor,
        "inputs": inputs,
        "outputs": oip_outputs.declared(served),
    }


def input_datatype(type_text: str) -> str:
    """The protocol's datatype for a signature column type."""
    if type_text in _NUMBERS:
        return _NUMBERS[type_text]
    return "FP64" if family(type_text) == "number" else "BYTES"
