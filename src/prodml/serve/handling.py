"""What every prediction handler of the gateway shares, whatever protocol it
speaks: reading the body with its limit, the token check, and counting each
refusal by status."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from prodml.client import Client
from prodml.deploy import tokens
from prodml.errors import ProdmlError
from prodml.serve import bodies
from prodml.serve.gateway import Answer, Gateway
from prodml.serve.responses import status_of


class Handling:
    def __init__(self, gateway: Gateway, client: Client) -> None:
        self.gateway = gateway
        self.client = client
        self.limits = (gateway.options.max_body, gateway.options.body_seconds)

    async def body(self, request: Request) -> Any:
        return await bodies.parsed(request, *self.limits)

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
            self.refused(name, route, error, started)
            raise

    def refused(self, name: str, route: str, error: ProdmlError, started: float) -> None:
        """Count a refusal; a name the gateway does not serve is counted as
        ``unknown``, so URLs cannot grow the metrics without bound."""
        known = name if name in self.gateway.router.routes else "unknown"
        elapsed = time.perf_counter() - started
        self.gateway.telemetry.observe(known, "none", route, status_of(error), elapsed)
