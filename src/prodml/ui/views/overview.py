"""The overview at ``/``: per model what serves now (champion, the rollout's stage and
split), its health from the latest monitor window, open alerts and incidents, its
SLOs with the error budget left; and what changed in the last 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.client import Client
from prodml.domain.monitoring import Window
from prodml.domain.registry import RegisteredModel
from prodml.sdk import incidents, models, monitoring, rollouts, slos
from prodml.ui import pages, window_charts
from prodml.ui.pages import client_of

NAV = ("Overview", "/", 0)
CHANGES_SHOWN = 200
RECENT = timedelta(hours=24)


async def overview(request: Request) -> Response:
    client = client_of(request)
    monitored = {spec.model for spec in monitoring.list_monitors(client=client)}
    cards = [
        _card(client, model, model.name in monitored)
        for model in sorted(models.list_models(client=client), key=lambda m: m.name)
    ]
    changed = monitoring.changes(datetime.now(UTC) - RECENT, client=client)
    return pages.render(
        request,
        "overview/index.html",
        title="Overview",
        cards=cards,
        changes=changed[-CHANGES_SHOWN:][::-1],
        more=max(0, len(changed) - CHANGES_SHOWN),
    )


def _card(client: Client, model: RegisteredModel, monitored: bool) -> dict[str, Any]:
    name = model.name
    active = [(r, j) for r, j in rollouts.rollout_status(name, client=client) if r.active]
    latest = _latest(client, name, "traffic") if monitored else None
    labels = _latest(client, name, "labels") if monitored else None
    return {
        "model": model,
        "champion": model.aliases.get("champion"),
        "rollout": active[0][0] if active else None,
        "judgement": active[0][1] if active else None,
        "monitored": monitored,
        "latest": latest,
        "stats": window_charts.stats_of(latest),
        "labels": window_charts.stats_of(labels),
        "alerts": monitoring.list_alerts(name, "open", client=client),
        "incidents": incidents.list_incidents(name, "open", client=client),
        "slos": slos.slo_status(name, client=client) if monitored else [],
    }


def _latest(client: Client, name: str, kind: str) -> Window | None:
    found = monitoring.monitor_windows(name, kind, limit=1, client=client)
    return found[0] if found else None


ROUTES = [Route("/", overview, methods=["GET"])]
