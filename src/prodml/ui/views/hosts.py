"""Hosts: every gateway and worker heard from in the last hour (what it serves, the
routing version it serves, marked when behind the store's, how long since its last
heartbeat, stale past ``STALE_AFTER`` s, the leases it holds), and who holds the
rollout controller's and the monitor worker's leases; redrawn every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.domain.hosts import STALE_AFTER, Heartbeat, Lease
from prodml.sdk import hosts
from prodml.times import glance
from prodml.ui import pages
from prodml.ui.pages import client_of

NAV = ("Hosts", "/hosts", 95)
WITHIN = 3600.0  # seconds: processes silent for longer are not listed
POLL_SECONDS = 5


def _live(request: Request) -> dict[str, Any]:
    client = client_of(request)
    seen = hosts.hosts(WITHIN, client=client)
    current = hosts.routing_version(client=client)
    held = hosts.leases(client=client)
    now = datetime.now(UTC)
    return {
        "rows": [_row(heartbeat, current) for heartbeat in seen],
        "leases": [_lease(lease, now, {h.id for h in seen}) for lease in held],
        "current": current,
        "stale_count": sum(1 for h in seen if h.stale),
        "behind_count": sum(1 for h in seen if _behind(h, current)),
        "stale_after": STALE_AFTER,
        "poll": POLL_SECONDS,
    }


def _behind(heartbeat: Heartbeat, current: int) -> bool:
    """A live gateway serving an older routing table; a stale one serves nothing."""
    version = heartbeat.routing_version
    return version is not None and version != current and not heartbeat.stale


def _row(heartbeat: Heartbeat, current: int) -> dict[str, Any]:
    return {
        "heartbeat": heartbeat,
        "behind": _behind(heartbeat, current),
        "ago": f"{glance(heartbeat.age)} ago",
    }


def _lease(lease: Lease, now: datetime, seen: set[str]) -> dict[str, Any]:
    left = (lease.expires_at - now).total_seconds()
    return {
        "lease": lease,
        "expired": left <= 0,
        "expires": f"in {glance(left)}" if left > 0 else f"expired {glance(-left)} ago",
        "holder_seen": lease.holder in seen,
    }


async def index(request: Request) -> Response:
    return pages.render(request, "hosts/index.html", title="Hosts", **_live(request))


async def live_part(request: Request) -> Response:
    """The tables htmx redraws every ``POLL_SECONDS`` s."""
    return pages.render(request, "hosts/_live.html", **_live(request))


ROUTES = [
    Route("/hosts", index, methods=["GET"]),
    Route("/hosts/live", live_part, methods=["GET"]),
]
