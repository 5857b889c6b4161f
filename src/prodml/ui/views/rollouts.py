"""Rollouts: every rollout, and one rollout live: its stage and split, each check's
value, interval and verdict (redrawn every 2 s while it runs, through htmx), the
sign-off it waits for, its decision log, why it ended, the candidate against the
champion per slice, and pause, resume, abort and promote for a deployer."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from prodml.errors import InvalidInputError
from prodml.sdk import approvals, rollouts
from prodml.ui import links, pages, session
from prodml.ui.pages import client_of

NAV = ("Rollouts", "/rollouts", 40)
MAX_REF = 200
MAX_REASON = 2000
ACTIONS = ("pause", "resume", "abort", "promote")
ENDINGS = ("rollout.completed", "rollout.rolled_back", "rollout.aborted")
POLL_SECONDS = 2


def _ref(request: Request) -> str:
    value = str(request.path_params["rollout"])
    if not value or len(value) > MAX_REF:
        raise InvalidInputError("The rollout id in the address is empty or too long.")
    return value


async def index(request: Request) -> Response:
    model = (request.query_params.get("model") or "").strip()[:MAX_REF] or None
    shown = rollouts.rollout_status(model, client=client_of(request))
    return pages.render(
        request,
        "rollouts/index.html",
        title="Rollouts",
        model=model or "",
        shown=shown,
        page_of=links.page_of,
    )


def _live(request: Request, ref: str) -> dict[str, Any]:
    """What the live part shows: the rollout, its step's verdict, sign-off and log."""
    client = client_of(request)
    details = rollouts.get_rollout(ref, client=client)
    rollout = details.rollout
    ended = next((e for e in reversed(details.log) if e.action in ENDINGS), None)
    signed = approvals.approvals(rollout.model, rollout.candidate, client=client)
    return {
        "rollout": rollout,
        "judgement": details.judgement,
        "log": list(reversed(details.log)),
        "ended": ended,
        "sign_off": signed,
        "steps": list(enumerate(rollout.plan.steps)),
        "poll": POLL_SECONDS,
        "page_of": links.page_of,
    }


async def rollout_page(request: Request) -> Response:
    live = _live(request, _ref(request))
    rollout = live["rollout"]
    return pages.render(
        request,
        "rollouts/rollout.html",
        title=f"Rollout {rollout.id[:12]} of {rollout.model}",
        actions=_actions(rollout.state),
        **live,
    )


async def slices_part(request: Request) -> Response:
    """The candidate against the champion per slice: the page loads it after it shows,
    as it reads every paired prediction of the rollout."""
    rollout, slices = rollouts.compare_rollout(_ref(request), client=client_of(request))
    return pages.render(
        request,
        "rollouts/_slices.html",
        rollout=rollout,
        slices=slices,
        agreement=_agreement_chart(slices),
    )


async def live_part(request: Request) -> Response:
    """The part of the rollout page that htmx redraws while the rollout is active."""
    return pages.render(request, "rollouts/_live.html", **_live(request, _ref(request)))


def _actions(state: str) -> list[str]:
    if state == "running":
        return ["pause", "abort", "promote"]
    if state == "paused":
        return ["resume", "abort", "promote"]
    return []


def _agreement_chart(slices: list[Any]) -> dict[str, Any] | None:
    rows = [
        {"slice": s.slice, "agreement": s.agreement, "pairs": s.pairs}
        for s in slices
        if s.agreement is not None
    ]
    if not rows:
        return None
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": "Candidate agrees with the champion",
        "data": {"values": rows},
        "width": 360,
        "height": {"step": 18},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "slice", "type": "nominal", "title": None, "sort": None},
            "x": {
                "field": "agreement",
                "type": "quantitative",
                "axis": {"format": "%"},
                "scale": {"domain": [0, 1]},
                "title": None,
            },
            "tooltip": [
                {"field": "slice"},
                {"field": "agreement", "format": ".1%"},
                {"field": "pairs"},
            ],
        },
    }


async def act(request: Request) -> Response:
    acting, form = await session.acting_client(request)
    action = str(request.path_params["action"])
    if action not in ACTIONS:
        raise InvalidInputError(f"No rollout action {action!r}; use one of: {', '.join(ACTIONS)}.")
    why = form.get("why")
    text = why.strip() if isinstance(why, str) else ""
    if len(text) > MAX_REASON:
        raise InvalidInputError(f"The reason is longer than {MAX_REASON} characters.")
    changed = rollouts.rollout_action(action, _ref(request), text or None, client=acting)
    return RedirectResponse(links.page_of("rollout", changed.id) or "/rollouts", status_code=303)


ROUTES = [
    Route("/rollouts", index, methods=["GET"]),
    Route("/rollouts/{rollout}", rollout_page, methods=["GET"]),
    Route("/rollouts/{rollout}/live", live_part, methods=["GET"]),
    Route("/rollouts/{rollout}/slices", slices_part, methods=["GET"]),
    Route("/rollouts/{rollout}/{action}", act, methods=["POST"]),
]
