"""Who is at the dashboard: a server-side session per browser, its CSRF token, and
the token a user logged in with.

The cookie holds only a random session id (HttpOnly, SameSite=Strict, Secure over
https). Every state-changing form carries the session's CSRF token. Sessions live
in this process's memory, bounded and expiring; a restart logs everyone out.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prodml.client import Client
from prodml.errors import AccessDeniedError, InvalidInputError

COOKIE = "prodml_session"
MAX_SESSIONS = 10_000  # the least recently seen go first
IDLE_SECONDS = 12 * 3600
MAX_FORM_BYTES = 64 * 1024


@dataclass
class Session:
    id: str
    csrf: str
    seen: float
    user: str | None = None
    role: str | None = None
    client: Client | None = field(default=None, repr=False)


class Sessions:
    def __init__(self) -> None:
        self._by_id: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        now = time.monotonic()
        with self._lock:
            found = self._by_id.get(session_id or "")
            if found is None or now - found.seen > IDLE_SECONDS:
                return None
            found.seen = now
            self._by_id.move_to_end(found.id)
            return found

    def new(self) -> Session:
        made = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.monotonic())
        with self._lock:
            self._by_id[made.id] = made
            while len(self._by_id) > MAX_SESSIONS:
                self._by_id.popitem(last=False)
        return made

    def renew(self, old: Session, **changes: Any) -> Session:
        """A fresh id and CSRF token on login and logout (no session fixation)."""
        with self._lock:
            self._by_id.pop(old.id, None)
        made = self.new()
        for key, value in changes.items():
            setattr(made, key, value)
        return made


class SessionMiddleware:
    """Puts ``request.state.session``, ``.user`` and ``.csrf`` on every request and
    sets the cookie when the session is new or renewed."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                try:
                    cookie.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header is ignored, not fatal
                    cookie = SimpleCookie()
        sent = cookie.get(COOKIE)
        session = self.sessions.get(sent.value if sent else None) or self.sessions.new()
        state = scope.setdefault("state", {})
        state["session"] = session
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                current: Session = state["session"]
                if sent is None or sent.value != current.id:
                    flags = "HttpOnly; SameSite=Strict; Path=/" + ("; Secure" if secure else "")
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", f"{COOKIE}={current.id}; {flags}".encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


class FormTooLargeError(InvalidInputError):
    """A posted form past ``MAX_FORM_BYTES`` (413)."""


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's. Its body is read
    with a cap whether or not it declares its length (a chunked body does not), so
    that no form is parsed, nor held in memory, past ``MAX_FORM_BYTES``."""
    too_large = FormTooLargeError(f"The form is too large ({MAX_FORM_BYTES >> 10} KiB at most).")
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise too_large
        chunks.append(chunk)
    request._body = b"".join(chunks)  # what request.form() reads instead of the stream
    form = await request.form(max_files=0, max_fields=100)
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session_of(request).csrf):
        raise AccessDeniedError(
            "The form's CSRF token does not match this session (it may have expired). "
            "Reload the page and try again."
        )
    return form


async def acting_client(request: Request) -> tuple[Client, FormData]:
    """The client a state-changing request acts with, and its checked form: refused in
    read-only mode; the logged-in user's token when there is one (the SDK then checks
    its role as the CLI does), else the dashboard's own client."""
    if request.app.state.read_only:
        raise AccessDeniedError(
            "This dashboard is read-only. Make the change with the CLI, or on a dashboard "
            "started without --read-only."
        )
    form = await checked_form(request)
    session = session_of(request)
    return session.client or request.app.state.client, form


def login(request: Request, name: str, role: str, token: str) -> Session:
    base: Client = request.app.state.client
    # what the user does is recorded under the token's name, as the CLI records its user
    acting = Client(**{**dataclasses.asdict(base.settings), "token": token, "user": name})
    renewed: Session = request.app.state.sessions.renew(
        session_of(request), user=name, role=role, client=acting
    )
    request.state.session = renewed
    return renewed


def logout(request: Request) -> None:
    request.state.session = request.app.state.sessions.renew(session_of(request))
