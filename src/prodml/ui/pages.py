"""Rendering pages: the template environment, charts, formats and the page context."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from prodml.client import Client
from prodml.ui import links

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("prodml.ui", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def client_of(request: Request) -> Client:
    """The dashboard's client: reads go through the SDK with it."""
    client: Client = request.app.state.client
    return client


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page (or, for an htmx request, the same template's fragment)."""
    session = getattr(request.state, "session", None)
    page = ENVIRONMENT.get_template(template).render(
        request=request,
        nav=request.app.state.nav,
        read_only=request.app.state.read_only,
        user=session.user if session else None,
        role=session.role if session else None,
        csrf=session.csrf if session else "",
        htmx=request.headers.get("hx-request") == "true",
        **context,
    )
    return HTMLResponse(page, status_code=status)


def chart(spec: dict[str, Any]) -> Markup:
    """A Vega-Lite chart: the spec travels as JSON data (never executed) and the page's
    script draws it; ``<`` is escaped so no value can close the script element."""
    text = json.dumps(spec, default=_plain, allow_nan=False).replace("<", "\\u003c")
    return Markup(f'<div class="chart"><script type="application/json">{text}</script></div>')


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def when(value: datetime | float | None) -> str:
    """A time as people read it in a table: ``2026-12-03 05:31 UTC``."""
    if value is None:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def number(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; text and None as they are."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}" if isinstance(value, float) else f"{value:,}"


def short(identifier: str | None, length: int = 8) -> str:
    return (identifier or "")[:length]


ENVIRONMENT.globals.update(
    chart=chart, page_of=links.page_of, lineage_of=links.lineage_of, opened=links.opened
)
ENVIRONMENT.filters.update(when=when, number=number, short=short)
