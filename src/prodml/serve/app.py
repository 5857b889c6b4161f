"""The gateway's ASGI app, built by a factory: the handlers of ``handlers.py`` over
one :class:`Gateway`, started and stopped with the app."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from prodml.client import Client
from prodml.errors import ProdmlError
from prodml.serve.gateway import Gateway, Options
from prodml.serve.handlers import Handlers
from prodml.serve.responses import crashed, refused, unrouted


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

    app = Starlette(
        routes=Handlers(gateway, client).routes(),
        lifespan=lifespan,
        exception_handlers={ProdmlError: refused, HTTPException: unrouted, Exception: crashed},
    )
    app.state.gateway = gateway
    return app
