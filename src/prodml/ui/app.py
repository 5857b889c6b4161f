"""The dashboard's ASGI app, built by a factory: ``create_app(client)``."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodml.client import Client
from prodml.errors import AccessDeniedError, InvalidInputError, NotFoundError, ProdmlError
from prodml.ui import pages, views
from prodml.ui.paths import EncodedSlashes
from prodml.ui.session import FormTooLargeError, SessionMiddleware, Sessions

# Vega compiles chart expressions with Function(); nothing else needs more than 'self'.
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
STATUS = {
    NotFoundError: 404,
    FormTooLargeError: 413,  # before InvalidInputError, which it is
    InvalidInputError: 400,
    AccessDeniedError: 403,
}


def create_app(client: Client | None = None, *, read_only: bool = False) -> Starlette:
    """The dashboard on ``client``'s store (the default client's when None)."""
    found = views.discover()
    routes: list[BaseRoute] = [
        Mount("/static", StaticFiles(packages=[("prodml.ui", "static")]), name="static")
    ]
    for view in found:
        routes.extend(view.ROUTES)
    sessions = Sessions()
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(EncodedSlashes),
            Middleware(Timing),
            Middleware(SessionMiddleware, sessions=sessions),
        ],
        exception_handlers={ProdmlError: _refused, HTTPException: _http, Exception: _failed},
    )
    app.state.client = client or Client()
    app.state.read_only = read_only
    app.state.sessions = sessions
    app.state.nav = [view.NAV for view in found if view.NAV]
    return app


async def _refused(request: Request, error: Exception) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    return pages.render(request, "error.html", status, title="Refused", message=str(error))


async def _http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = "No such page." if error.status_code == 404 else str(error.detail)
    return pages.render(
        request, "error.html", error.status_code, title="Not found", message=message
    )


async def _failed(request: Request, error: Exception) -> Response:
    message = (
        f"The page failed: {type(error).__name__}. The server log has the details; "
        "reload to try again."
    )
    return pages.render(request, "error.html", 500, title="Failed", message=message)


class Timing:
    """Security headers on every response, and ``Server-Timing: app;dur=MS`` for the time
    the server spent (what the dashboard benchmark reads)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                spent = (time.perf_counter() - started) * 1000
                timing = (b"server-timing", f"app;dur={spent:.1f}".encode())
                headers = [*message.get("headers", []), *HEADERS, timing]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
