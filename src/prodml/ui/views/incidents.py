"""Incidents: the list, an incident's page (its alerts, its timeline and one-click
responses: rollback, fallback, add the failures to a validation set; closing it with
how it was resolved), and the shift report of every incident and alert since a time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from prodml import times
from prodml.errors import InvalidInputError, NotFoundError
from prodml.sdk import incidents, models
from prodml.ui import pages, session
from prodml.ui.pages import client_of

NAV = ("Incidents", "/incidents", 70)
ID = re.compile(r"[0-9a-f]{1,64}")
STATES = ("open", "closed")
RESPONSES = ("rollback", "fallback", "add-failures")  # retrain runs a command: CLI only
MAX_TEXT = 2000
MAX_NAME = 200
DEFAULT_SHIFT = timedelta(hours=12)
# The report is a page of its own, with its own styles and nothing else.
REPORT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'"


def incident_id(request: Request) -> str:
    given: str = request.path_params["incident_id"]
    if not ID.fullmatch(given):
        raise NotFoundError(f"No incident {given[:80]!r}: an incident id is hexadecimal.")
    return given


async def listing(request: Request) -> Response:
    client = client_of(request)
    names = tuple(m.name for m in models.list_models(client=client))
    model = request.query_params.get("model", "")
    state = request.query_params.get("state", "")
    if (model and model not in names) or (state and state not in STATES):
        raise InvalidInputError("Filter by a known model and by state open or closed.")
    found = incidents.list_incidents(model or None, state or None, client=client)
    return pages.render(
        request,
        "incidents/list.html",
        title="Incidents",
        incidents=found,
        names=names,
        states=STATES,
        chosen={"model": model, "state": state},
    )


async def incident_page(request: Request) -> Response:
    shown = incidents.get_incident(incident_id(request), client=client_of(request))
    incident = shown["incident"]
    return pages.render(
        request,
        "incidents/incident.html",
        title=f"Incident {incident.id[:8]}",
        incident=incident,
        alerts=shown["alerts"],
        timeline=shown["timeline"],
        responses=RESPONSES,
    )


def _text(value: object, what: str, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInputError(f"Give {what}.")
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidInputError(f"{what.capitalize()} is text of at most {MAX_TEXT} characters.")
    return value.strip() or None


async def respond(request: Request) -> Response:
    """One response, by the logged-in user's token when there is one; what it did shows
    on the incident's timeline."""
    given = incident_id(request)
    action = request.path_params["action"]
    if action not in RESPONSES:
        raise InvalidInputError(f"Responses here are {', '.join(RESPONSES)}; not {action[:20]!r}.")
    acting, form = await session.acting_client(request)
    why = _text(form.get("why"), "the reason")
    options: dict[str, str] = {}
    if action == "fallback" and (to := _text(form.get("to"), "the version")):
        options["to"] = to
    if action == "add-failures":
        options["valset"] = _text(form.get("valset"), "the validation set", True) or ""
        options["label_as"] = _text(form.get("label_as"), "the label column", True) or ""
        if where := _text(form.get("where"), "the condition"):
            options["where"] = where
    incidents.respond_to_incident(given, action, why, client=acting, **options)
    full = incidents.get_incident(given, client=acting)["incident"].id
    return RedirectResponse(f"/incidents/{full}#timeline", status_code=303)


async def close(request: Request) -> Response:
    acting, form = await session.acting_client(request)
    why = _text(form.get("why"), "how it was resolved", True) or ""
    closed = incidents.close_incident(incident_id(request), why, client=acting)
    return RedirectResponse(f"/incidents/{closed.id}", status_code=303)


def _since(request: Request) -> tuple[str, datetime]:
    text = request.query_params.get("since", "")[:40]
    moment = times.moment(text, "since") if text else datetime.now(UTC) - DEFAULT_SHIFT
    assert moment is not None
    return text, moment


async def report(request: Request) -> Response:
    text, since = _since(request)
    written = incidents.incident_report(since=since, format="markdown", client=client_of(request))
    return pages.render(
        request, "incidents/report.html", title="Shift report", report=written, since=text
    )


async def report_page(request: Request) -> Response:
    _, since = _since(request)
    written = incidents.incident_report(since=since, format="html", client=client_of(request))
    return HTMLResponse(written, headers={"content-security-policy": REPORT_POLICY})


ROUTES = [
    Route("/incidents", listing, methods=["GET"]),
    Route("/incidents/{incident_id}", incident_page, methods=["GET"]),
    Route("/incidents/{incident_id}/close", close, methods=["POST"]),
    Route("/incidents/{incident_id}/respond/{action}", respond, methods=["POST"]),
    Route("/report", report, methods=["GET"]),
    Route("/report/page", report_page, methods=["GET"]),
]
