"""KServe's v1 prediction protocol beside prodml's own ``/v1`` routes:
``POST /v1/models/{name}:predict`` takes ``{"instances": [...]}``, each instance a
record (field: value) or a list of values in the signature's column order, and
answers ``{"predictions": [...]}``; ``GET /v1/models/{name}`` says whether the model
is ready, and ``GET /`` that the server is alive. Predictions are routed as every
other (a rollout's share, the fallback chain) and logged the same way."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prodml.errors import ProdmlError
from prodml.serve.handling import Handling
from prodml.serve.inputs import MAX_ROWS, InputSpec, Rejected
from prodml.serve.responses import json

ROUTE = "kserve_predict"  # the route label of its requests in /metrics


def rows(body: Any, spec: InputSpec) -> list[Any]:
    """The instances of a v1 request as records; a list instance is read in the
    signature's column order (a tensor model takes its rows as they are)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("instances"), list):
        raise Rejected('A KServe v1 request is {"instances": [...]}.', "instances")
    instances: list[Any] = body["instances"]
    if not instances:
        raise Rejected("'instances' is empty; send at least one row.", "instances")
    if len(instances) > MAX_ROWS:
        raise Rejected(
            f"'instances' holds {len(instances):,} rows; send at most {MAX_ROWS:,} per request.",
            "instances",
            413,
        )
    if spec.tensor or not spec.names:
        return instances
    return [_record(instance, index, spec) for index, instance in enumerate(instances)]


def _record(instance: Any, index: int, spec: InputSpec) -> Any:
    if not isinstance(instance, list):
        return instance
    if len(instance) != len(spec.names):
        raise Rejected(
            f"instances[{index}] holds {len(instance)} values; model {spec.ref} takes "
            f"{len(spec.names)} in this order: {', '.join(spec.names)}.",
            f"instances[{index}]",
        )
    return dict(zip(spec.names, instance, strict=True))


class KServeV1(Handling):
    async def predict(self, request: Request) -> Response:
        name = request.path_params["name"]
        started = time.perf_counter()
        try:
            await self.allow(request, "predict")
            body = await self.body(request)
            records = rows(body, self.gateway.route(name).champion.spec)
        except ProdmlError as error:
            self.refused(name, ROUTE, error, started)
            raise
        done = await self.answer(name, records, request.headers, ROUTE, started)
        elapsed = time.perf_counter() - started
        self.gateway.telemetry.observe(name, str(done.version), ROUTE, 200, elapsed)
        headers = {"x-request-id": done.request_id}
        return json({"predictions": done.answers}, headers=headers)

    async def ready(self, request: Request) -> Response:
        route = self.gateway.route(request.path_params["name"])
        return json({"name": route.name, "ready": True})

    async def live(self, request: Request) -> Response:
        return json({"status": "alive"})
