"""The gateway's ASGI app, built by a factory: prediction routes (prodml's and the
Open Inference Protocol v2's), health, Prometheus metrics, OpenAPI, and admin
routes for rollback and rollouts. Errors map to status codes in one place."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.client import Client
from prodml.deploy import rollouts, tokens
from prodml.errors import (
    AccessDeniedError,
    GateRefusedError,
    InvalidInputError,
    NotFoundError,
    ProdmlError,
    RunStateError,
    StoreError,
)  # fmt: skip
from prodml.serve import oip, openapi
from prodml.serve.gateway import Answer, Gateway, Options, UnansweredError
from prodml.serve.inputs import Rejected

STATUS: tuple[tuple[type[ProdmlError], int], ...] = (
    (NotFoundError, 404),
    (AccessDeniedError, 403),
    (InvalidInputError, 422),
    (GateRefusedError, 409),
    (RunStateError, 409),
    (UnansweredError, 503),
    (StoreError, 503),
)


def json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
        status,
        headers,
        "application/json",
    )


def status_of(error: ProdmlError) -> int:
    if isinstance(error, Rejected):
        return error.status
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 400


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProdmlError)
    payload: dict[str, Any] = {"error": str(error), "kind": type(error).__name__}
    if isinstance(error, Rejected):
        payload["field"] = error.field
    return json(payload, status_of(error))


async def _crashed(request: Request, error: Exception) -> Response:
    return json({"error": f"Internal error: {type(error).__name__}", "kind": "InternalError"}, 500)


def create_app(client: Client, names: list[str], options: Options | None = None) -> Starlette:
    gateway = Gateway(client, names, options or Options())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(gateway.start)
        # What startup loaded (modules, models) lives as long as the gateway: keep it out
        # of the collector's full passes, which otherwise pause every request in flight.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await run_in_threadpool(gateway.close)

    async def body(request: Request) -> Any:
        raw = await request.body()
        if len(raw) > gateway.options.max_body:
            raise Rejected(
                f"The body has {len(raw):,} bytes; the limit is {gateway.options.max_body:,}. "
                "Split the rows over several requests.",
                "body",
                413,
            )
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise Rejected(f"The body is not valid JSON: {error}.", "body", 400) from None

    async def allow(request: Request, action: str) -> None:
        if tokens.needed(client, action) is None:
            return
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() or None
        await run_in_threadpool(tokens.check, client, token, action)

    async def answer(name: str, parsed: Any, headers: Any, route: str, started: float) -> Answer:
        try:
            return await gateway.answer(name, parsed, headers, route)
        except ProdmlError as error:  # counted by status, then answered by the handler
            elapsed = time.perf_counter() - started
            gateway.telemetry.observe(name, "none", route, status_of(error), elapsed)
            raise

    async def predict(request: Request) -> Response:
        name = request.path_params["name"]
        started = time.perf_counter()
        await allow(request, "predict")
        done = await answer(name, await body(request), request.headers, "predict", started)
        payload = {
            "predictions": done.answers, "model": done.model, "version": done.version,
            "variant": done.variant, "fallback": done.fallback,
            "request_id": done.request_id,
        }  # fmt: skip
        elapsed = time.perf_counter() - started
        gateway.telemetry.observe(name, str(done.version), "predict", 200, elapsed)
        return json(payload, headers={"x-request-id": done.request_id})

    async def infer(request: Request) -> Response:
        name = request.path_params["name"]
        started = time.perf_counter()
        await allow(request, "predict")
        parsed = await body(request)
        headers = dict(request.headers)
        if isinstance(parsed, dict) and isinstance(parsed.get("id"), str):
            headers.setdefault("x-request-id", parsed["id"])
        done = await answer(name, oip.records(parsed), headers, "infer", started)
        elapsed = time.perf_counter() - started
        gateway.telemetry.observe(name, str(done.version), "infer", 200, elapsed)
        payload = oip.response(done.model, done.version, done.request_id, done.answers)
        return json(payload, headers={"x-request-id": done.request_id})

    async def ready(request: Request) -> Response:
        routes = gateway.router.routes
        if "name" in request.path_params:
            gateway.route(request.path_params["name"])
        return json({"ready": bool(routes), "error": gateway.router.error})

    async def live(request: Request) -> Response:
        return json({"live": True})

    async def health(request: Request) -> Response:
        return json({"status": "ok", "models": _routing(gateway), "error": gateway.router.error})

    async def server(request: Request) -> Response:
        return json({"name": "prodml", "version": "0.1.0", "extensions": []})

    async def model_metadata(request: Request) -> Response:
        return json(oip.metadata(gateway.route(request.path_params["name"]).champion))

    async def models(request: Request) -> Response:
        return json(_routing(gateway))

    async def metrics(request: Request) -> Response:
        content, media = gateway.telemetry.exposition()
        return Response(content, 200, media_type=media)

    async def spec(request: Request) -> Response:
        return json(openapi.document(gateway.router.routes))

    async def rollback(request: Request) -> Response:
        await allow(request, "rollback")
        parsed = await body(request) if await request.body() else {}
        why = parsed.get("why") if isinstance(parsed, dict) else None
        name = request.path_params["name"]
        gateway.route(name)
        done = await run_in_threadpool(rollouts.rollback, client, name, why)
        await run_in_threadpool(gateway.router.refresh)
        return json({"model": name, "done": repr(done)})

    async def rollout_action(request: Request) -> Response:
        action = request.path_params["action"]
        await allow(request, "rollout")
        parsed = await body(request) if await request.body() else {}
        why = parsed.get("why") if isinstance(parsed, dict) else None
        if action not in rollouts.ACTIONS:
            known = ", ".join(rollouts.ACTIONS)
            raise NotFoundError(f"No rollout action {action!r}; use one of: {known}.")
        done = await run_in_threadpool(
            rollouts.act, client, action, request.path_params["name"], why
        )
        await run_in_threadpool(gateway.router.refresh)
        return json({"rollout": done.id, "state": done.state, "step": done.current.label})

    routes = [
        Route("/v1/models/{name}/predict", predict, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{name}/rollback", rollback, methods=["POST"]),
        Route("/v1/rollouts/{name}/{action}", rollout_action, methods=["POST"]),
        Route("/v2", server, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", spec, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ProdmlError: _refused, Exception: _crashed},
    )
    app.state.gateway = gateway
    return app


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
