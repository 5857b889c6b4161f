"""The gateway's HTTP handlers: prediction routes (prodml's, the Open Inference
Protocol v2's in ``oip_handlers.py`` and KServe v1's in ``kserve_v1.py``), health,
metrics, OpenAPI and the admin routes, over one :class:`Gateway`."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.deploy import rollouts
from prodml.domain.hosts import STALE_AFTER
from prodml.errors import NotFoundError, ProdmlError
from prodml.serve import bodies, openapi
from prodml.serve.gateway import Gateway
from prodml.serve.handling import Handling
from prodml.serve.kserve_v1 import KServeV1
from prodml.serve.oip_handlers import OipHandlers
from prodml.serve.responses import json
from prodml.serve.routing import RoutingError


class Handlers(Handling):
    def routes(self) -> list[Route]:
        oip = OipHandlers(self.gateway, self.client)
        kserve = KServeV1(self.gateway, self.client)
        # A model's name may hold '/' (team/churn), sent as it is or as %2F: each name
        # takes the rest of the path up to its route's own ending, so the routes with a
        # longer ending come first (the first route a path matches whole answers it).
        model = "/v2/models/{name:path}"
        version = f"{model}/versions/{{version}}"
        return [  # the prediction routes first: each request is matched in this order
            Route("/v1/models/{name:path}/predict", self.predict, methods=["POST"]),
            Route(f"{version}/infer", oip.infer, methods=["POST"]),
            Route(f"{model}/infer", oip.infer, methods=["POST"]),
            Route("/v1/models/{name:path}:predict", kserve.predict, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{name:path}/rollback", self.rollback, methods=["POST"]),
            Route("/v1/models/{name:path}", kserve.ready, methods=["GET"]),
            Route("/v1/rollouts/{name:path}/{action}", self.rollout_action, methods=["POST"]),
            Route("/", kserve.live, methods=["GET"]),
            Route("/v2", oip.server, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            Route(f"{version}/ready", oip.ready, methods=["GET"]),
            Route(version, oip.metadata, methods=["GET"]),
            Route(f"{model}/ready", oip.ready, methods=["GET"]),
            Route(model, oip.metadata, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/openapi.json", self.spec, methods=["GET"]),
        ]

    async def predict(self, request: Request) -> Response:
        name = request.path_params["name"]
        started = time.perf_counter()
        try:
            await self.allow(request, "predict")
            parsed = await self.body(request)
        except ProdmlError as error:
            self.refused(name, "predict", error, started)
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

    async def _follow(self) -> None:
        """Take up the change an admin action made now; a part that cannot be loaded
        is shown by /healthz and retried by the routing thread."""
        with contextlib.suppress(RoutingError):
            await run_in_threadpool(self.gateway.router.refresh)

    async def ready(self, request: Request) -> Response:
        routes = self.gateway.router.routes
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
                "process": self.gateway.heartbeats.id,
                "routing_version": router.version,
                "hosts": _hosts(self.gateway),
                "heartbeat_error": self.gateway.heartbeats.error,
            }
        )

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
        why = await bodies.why_of(request, *self.limits)
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
        why = await bodies.why_of(request, *self.limits)
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


def _hosts(gateway: Gateway) -> list[dict[str, Any]]:
    """Every gateway and worker heard from in the last hour, as the heartbeat thread
    last read them (``/healthz`` makes no query of its own), aged by the time since
    that read: while the store cannot be reached, every heartbeat (this process's
    too) grows older and turns stale."""
    since = max(0.0, time.monotonic() - gateway.heartbeats.read_at)
    shown = []
    for h in gateway.heartbeats.seen:
        age = h.age + since
        shown.append(
            {
                "id": h.id, "host": h.host, "role": h.role, "address": h.address,
                "models": list(h.models), "routing_version": h.routing_version,
                "leases": list(h.leases), "seen_s_ago": round(age, 1),
                "stale": age > STALE_AFTER,
            }
        )  # fmt: skip
    return shown
