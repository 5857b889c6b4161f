"""Alerts: the queue with filters, and an alert's page with its signals, the context
it was raised with, sample rows (the stored query, run and shown) and the forms to
ack or ignore it with a reason."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from prodml import times
from prodml.domain.monitoring import SEVERITIES, Alert, AlertState
from prodml.errors import InvalidInputError, NotFoundError, ProdmlError
from prodml.sdk import models, monitoring, predictions
from prodml.ui import pages, session
from prodml.ui.pages import client_of

NAV = ("Alerts", "/alerts", 60)
ID = re.compile(r"[0-9a-f]{1,64}")
STATES = tuple(s.value for s in AlertState)
MAX_SHOWN = 500
MAX_REASON = 2000
SAMPLE_ROWS = 20
DECISIONS = {"ack": monitoring.ack_alert, "ignore": monitoring.ignore_alert}


def alert_id(request: Request) -> str:
    """The alert id (or prefix) in the path: hex, at most 64 characters."""
    given: str = request.path_params["alert_id"]
    if not ID.fullmatch(given):
        raise NotFoundError(f"No alert {given[:80]!r}: an alert id is hexadecimal. See /alerts")
    return given


def _choice(request: Request, key: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(key, "")
    if value and value not in allowed:
        raise InvalidInputError(f"Filter {key} is one of {', '.join(allowed)}; not {value[:40]!r}.")
    return value


async def queue(request: Request) -> Response:
    client = client_of(request)
    names = tuple(m.name for m in models.list_models(client=client))
    model = _choice(request, "model", names)
    state = _choice(request, "state", STATES)
    severity = _choice(request, "severity", SEVERITIES)
    since_text = request.query_params.get("since", "")[:40]
    since = times.moment(since_text, "since") if since_text else None
    found = monitoring.list_alerts(model or None, state or None, since, client=client)
    if severity:
        found = [a for a in found if a.severity == severity]
    return pages.render(
        request,
        "alerts/queue.html",
        title="Alerts",
        alerts=found[:MAX_SHOWN],
        more=max(0, len(found) - MAX_SHOWN),
        names=names,
        states=STATES,
        severities=SEVERITIES,
        chosen={"model": model, "state": state, "severity": severity, "since": since_text},
    )


async def alert_page(request: Request) -> Response:
    client = client_of(request)
    alert = monitoring.get_alert(alert_id(request), client=client)
    sample = _sample(request, alert)
    return pages.render(
        request,
        "alerts/alert.html",
        title=f"Alert {alert.id[:8]}",
        alert=alert,
        expected=[_expected(signal.expected) for signal in alert.signals],
        context=alert.context,
        sample=sample,
    )


def _expected(value: Any) -> str:
    """A signal's expected range as people read it: ``<= 3``, ``>= 0.74``, ``1 to 2``."""
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = (None if v is None else pages.number(v) for v in value)
        if low is not None and high is not None:
            return f"{low} to {high}"
        if low is not None or high is not None:
            return f">= {low}" if low is not None else f"<= {high}"
        return ""
    return pages.number(value)


SAMPLE_SLACK = timedelta(minutes=10)  # rows logged just after the window's end


def _sample(request: Request, alert: Alert) -> dict[str, Any]:
    """The stored sample query, run over the log now, with its rows (or why not)."""
    query = (alert.context.get("samples") or {}).get("query")
    if not isinstance(query, str) or not query:
        return {"query": None, "columns": [], "rows": [], "error": None}
    try:
        table = predictions.query_predictions(
            query,
            client=client_of(request),
            model=alert.model,
            since=alert.window_start,
            until=alert.window_end + SAMPLE_SLACK,
        )
    except ProdmlError as error:
        return {"query": query, "columns": [], "rows": [], "error": str(error)}
    table = table.slice(0, SAMPLE_ROWS)
    return {
        "query": query,
        "columns": table.column_names,
        "rows": [list(row.values()) for row in table.to_pylist()],
        "error": None,
    }


async def decide(request: Request) -> Response:
    """Ack or ignore, with a reason; by the logged-in user's token when there is one."""
    decision = request.path_params["decision"]
    if decision not in DECISIONS:
        raise InvalidInputError(f"An alert is acked or ignored, not {decision[:20]!r}.")
    given = alert_id(request)
    acting, form = await session.acting_client(request)
    why = form.get("why")
    if not isinstance(why, str) or len(why) > MAX_REASON:
        raise InvalidInputError(f"Say why in at most {MAX_REASON} characters.")
    decided = DECISIONS[decision](given, why, client=acting)
    return RedirectResponse(f"/alerts/{decided.id}", status_code=303)


ROUTES = [
    Route("/alerts", queue, methods=["GET"]),
    Route("/alerts/{alert_id}", alert_page, methods=["GET"]),
    Route("/alerts/{alert_id}/{decision}", decide, methods=["POST"]),
]
