"""Logging in with an access token, and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from prodml.sdk import access
from prodml.ui import pages, session
from prodml.ui.pages import client_of

NAV = None
MAX_TOKEN = 200


def _next(value: object) -> str:
    """Only a path on this site (never another host) to return to after login."""
    text = value if isinstance(value, str) else "/"
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//"):
        return "/"
    return text


async def login_page(request: Request) -> Response:
    return pages.render(
        request, "login.html", title="Log in", next=_next(request.query_params.get("next"))
    )


async def login(request: Request) -> Response:
    form = await session.checked_form(request)
    token = form.get("token")
    target = _next(form.get("next"))
    grant = None
    if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
        grant = access.token_grant(token.strip(), client=client_of(request))
    if grant is None or not isinstance(token, str):
        message = "Unknown or revoked token. Ask a deployer for one: prodml tokens create NAME"
        return pages.render(request, "login.html", 401, title="Log in", next=target, error=message)
    session.login(request, grant[0], grant[1], token.strip())
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    await session.checked_form(request)
    session.logout(request)
    return RedirectResponse("/", status_code=303)


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
