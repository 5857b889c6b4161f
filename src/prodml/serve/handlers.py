"""The gateway's HTTP handlers: prediction routes (prodml's and the Open Inference
Protocol v2's), health, metrics, OpenAPI and the admin routes, over one
:class:`Gateway`."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.client import Client
from prodml.deploy import rollouts, tokens
from prodml.errors import NotFoundError, ProdmlError
from prodml.serve import bodies, oip, openapi, values
from prodml.serve.gateway import Answer, Gateway
from prodml.serve.responses import json, status_of
from prodml.serve.routing import RoutingError


class Handlers:
    def __init__(self, gateway: Gateway, client: Client) -> None:
        self.gateway = gateway
        self.client = client

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models/{name}/predict", self.predict, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{name}/rollback", self.rollback, methods=["POST"]),
            Route("/v1/rollouts/{name}/{action}", self.rollout_action, methods=["POST"]),
            Route("/v2", self.server, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            Route("/v2/models/{name}", self.model_metadata, methods=["GET"]),
            Route("/v2/models/{name}/ready", self.ready, methods=["GET"]),
            Route("/v2/models/{name}/infer", self.infer, methods=["POST"]),
            Route("/healthz", self.health, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/openapi.json", self.spec, methods=["GET"]),
        ]

    async def body(self, request: Request) -> Any:
        return await bodies.parsed(request, self.gateway.options.max_body)

    async def allow(self, request: Request, action: str) -> None:
        if tokens.needed(self.client, action) is None:
            return
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() or None
        await run_in_threadpool(tokens.check, self.client, token, action)

    async def answer(
        self, name: str, parsed: Any, headers: Any, route: str, started: float
    ) -> Answer:
        try:
            return await self.gateway.answer(name, parsed, headers, route)
        except ProdmlError as error:  # counted by status, then answered by the handler
            self._refused(name, route, error, started)
            raise

    def _refused(self, name: str, route: str, error: ProdmlError, started: float) -> None:
        """Count a refusal; a name the gateway does not serve is counted as
        ``unknown``, so URLs cannot grow the metrics without bound."""
        known = name if name in self.gateway.router.routes else "unknown"
        elapsed = time.perf_counter() - started
        self.gateway.telemetry.observe(known, "none", route, status_of(error), elapsed)

    async def predict(self, request: Request) -> Response:
        name = request.path_params["name"]
        started = time.perf_counter()
        try:
            await self.allow(request, "predict")
            parsed = await self.body(request)
        except ProdmlError as error:
            self._refused(name, "predict", error, started)
            raise
        done = await self.answer(name, parsed, request.headers, "predict", started)
        payload = {
            "predictions": done.answers, "model": done.model, "version": done.version,
            "variant": done.variant, "fallback": done.fallback,
            "request_id": done.request_id,
        }  # fmt: skip
        elapsed = time.perf_counter() - started
        self.gateway.telemetry.observe(name, str(done.version), "predict", 200, elapsed)
        return json(payload, headers={"x-request-id": done.request_id})

    async def infer(self, request: Request) -> Response:
        name = request.path_params["name"]
        started = time.perf_counter()
        try:
            await self.allow(request, "predict")
            parsed = await self.body(request)
            headers = dict(request.headers)
            if isinstance(parsed, dict) and "id" in parsed:
                headers.setdefault("x-request-id", values.request_id(parsed["id"], "id") or "")
            spec = self.gateway.route(name).champion.spec
            records = oip.records(parsed, spec.width if spec.tensor else None)
        except ProdmlError as error:
            self._refused(name, "infer", error, started)
            raise
        done = await self.answer(name, records, headers, "infer", started)
        elapsed = time.perf_counter() - started
        self.gateway.telemetry.observe(name, str(done.version), "infer", 200, elapsed)
        payload = oip.response(done.model, done.version, done.request_id, done.answers)
        return json(payload, headers={"x-request-id": done.request_id})

    async def _follow(self) -> None:
        """Take up the change an admin action made now; a part that cannot be loaded
        is shown by /healthz and retried by the routing thread."""
        with contextlib.suppress(RoutingError):
            await run_in_threadpool(self.gateway.router.refresh)

    async def ready(self, request: Request) -> Response:
        routes = self.gateway.router.routes
        if "name" in request.path_params:
            self.gateway.route(request.path_params["name"])
        return json({"ready": bool(routes), "error": self.gateway.router.error})

    async def live(self, request: Request) -> Response:
        return json({"live": True})

    async def health(self, request: Request) -> Response:
        """``ok``, or ``degraded`` while routing cannot follow the store (the last good
        table still serves) or the prediction log is losing rows."""
        router = self.gateway.router
        log = self.gateway.log_health()
        losing = log.get("alive") is False or log.get("dropped") or log.get("failures")
        degraded = router.error is not None or bool(losing)
        return json(
            {
                "status": "degraded" if degraded else "ok",
                "models": _routing(self.gateway),
                "error": router.error,
                "routing_failures": router.failures,
                "loaded_versions": router.loaded,
                "log": log,
            }
        )

    async def server(self, request: Request) -> Response:
        return json({"name": "prodml", "version": "0.1.0", "extensions": []})

    async def model_metadata(self, request: Request) -> Response:
        return json(oip.metadata(self.gateway.route(request.path_params["name"]).champion))

    async def models(self, request: Request) -> Response:
        return json(_routing(self.gateway))

    async def metrics(self, request: Request) -> Response:
        telemetry = self.gateway.telemetry
        telemetry.state(self.gateway.log_health(), self.gateway.router.failures)
        content, media = telemetry.exposition()
        return Response(content, 200, media_type=media)

    async def spec(self, request: Request) -> Response:
        return json(openapi.document(self.gateway.router.routes))

    async def rollback(self, request: Request) -> Response:
        await self.allow(request, "rollback")
        why = await bodies.why_of(request, self.gateway.options.max_body)
        name = request.path_params["name"]
        self.gateway.route(name)
        done = await run_in_threadpool(rollouts.rollback, self.client, name, why)
        await self._follow()
        return json({"model": name, "done": repr(done)})

    async def rollout_action(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in rollouts.ACTIONS:
            known = ", ".join(rollouts.ACTIONS)
            raise NotFoundError(f"No rollout action {action[:40]!r}; use one of: {known}.")
        await self.allow(request, "rollout")
        why = await bodies.why_of(request, self.gateway.options.max_body)
        done = await run_in_threadpool(
            rollouts.act, self.client, action, request.path_params["name"], why
        )
        await self._follow()
        return json({"rollout": done.id, "state": done.state, "step": done.current.label})


def _routing(gateway: Gateway) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, route in gateway.router.routes.items():
        rollout = route.rollout
        shown[name] = {
            "champion": route.champion.number,
            "previous": route.previous.number if route.previous else None,
            "rollout": None
            if rollout is None
            else {
                "id": rollout.id, "candidate": rollout.candidate, "state": rollout.state,
                "step": rollout.current.label, "share": rollout.share,
            },
        }  # fmt: skip
    return shown
