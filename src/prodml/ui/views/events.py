"""Events: the append-only log of every state change (who, when, why), newest first,
filtered by time and kind, each subject linked to its page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml import times
from prodml.domain.lineage import Event
from prodml.errors import InvalidInputError
from prodml.sdk import lineage
from prodml.ui import links, pages
from prodml.ui.pages import client_of

NAV = ("Events", "/events", 90)
MAX_TIME = 64
MAX_KIND = 64
MAX_SHOWN = 500
DETAIL_CHARS = 200
# the families of actions (the part before the dot): offered, not enforced
KINDS = (
    "alert",
    "artifact",
    "auth",
    "dataset",
    "gc",
    "incident",
    "labels",
    "model",
    "monitor",
    "notify",
    "rollout",
    "run",
    "store",
    "suite",
    "token",
    "valset",
)


def _param(request: Request, name: str, limit: int, default: str = "") -> str:
    value = request.query_params.get(name, default).strip()
    if len(value) > limit:
        raise InvalidInputError(f"The {name} filter is longer than {limit} characters.")
    return value


async def events_page(request: Request) -> Response:
    since = _param(request, "since", MAX_TIME, "24h")
    until = _param(request, "until", MAX_TIME)
    kind = _param(request, "kind", MAX_KIND)
    found = lineage.events(
        since=times.moment(since or None, "Since"),
        until=times.moment(until or None, "Until"),
        action=kind or None,
        client=client_of(request),
        limit=MAX_SHOWN + 1,
        newest_first=True,
    )
    newest = found[:MAX_SHOWN]
    return pages.render(
        request,
        "events/log.html",
        title="Events",
        since=since,
        until=until,
        kind=kind,
        kinds=KINDS,
        more=len(found) > MAX_SHOWN,
        rows=[(event, _subject(event), _details(event)) for event in newest],
    )


def _subject(event: Event) -> str | None:
    return links.subject_page(event.subject_kind, event.subject_id, event.details)


def _details(event: Event) -> str:
    text = ", ".join(f"{key}={value}" for key, value in event.details.items())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


ROUTES = [Route("/events", events_page, methods=["GET"])]
