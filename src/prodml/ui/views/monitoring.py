"""Monitoring: every monitor with its latest window, and per model its windows over
time as charts (input drift by column, the prediction's distribution, the label
metric with its lag, latency and errors), the alerts marked on each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.errors import InvalidInputError, NotFoundError
from prodml.sdk import drift, monitoring
from prodml.ui import pages, window_charts
from prodml.ui.pages import client_of
from prodml.ui.paths import MODEL

NAV = ("Monitoring", "/monitoring", 50)
MAX_NAME = 200
SPANS = {"24h": 1, "3d": 3, "7d": 7, "30d": 30}  # the windows shown, in days
DEFAULT_SPAN = "3d"
MAX_DRIFT_WINDOWS = 720  # profiles read per page: a month of hourly windows


def _name(request: Request) -> str:
    name: str = request.path_params["model"]
    if not 0 < len(name) <= MAX_NAME:
        raise InvalidInputError(f"A model name has 1 to {MAX_NAME} characters.")
    return name


async def index(request: Request) -> Response:
    client = client_of(request)
    rows = []
    for spec in monitoring.list_monitors(client=client):
        latest = monitoring.monitor_windows(spec.model, limit=1, client=client)
        labels = monitoring.monitor_windows(spec.model, "labels", limit=1, client=client)
        open_alerts = monitoring.list_alerts(spec.model, "open", client=client)
        rows.append(
            {
                "spec": spec,
                "latest": latest[0] if latest else None,
                "stats": window_charts.stats_of(latest[0] if latest else None),
                "labels": window_charts.stats_of(labels[0] if labels else None),
                "open_alerts": len(open_alerts),
            }
        )
    return pages.render(request, "monitoring/index.html", title="Monitoring", monitors=rows)


async def model_page(request: Request) -> Response:
    name = _name(request)
    client = client_of(request)
    span = request.query_params.get("span", DEFAULT_SPAN)
    if span not in SPANS:
        raise InvalidInputError(f"Show one of {', '.join(SPANS)}, not {span[:20]!r}.")
    specs = monitoring.list_monitors(name, client=client)
    if not specs:
        raise NotFoundError(
            f"Model {name!r} has no monitor. Declare one: prodml monitor set {name} SPEC.yaml"
        )
    since = datetime.now(UTC) - timedelta(days=SPANS[span])
    traffic = monitoring.monitor_windows(name, since=since, limit=None, client=client)[::-1]
    labels = monitoring.monitor_windows(name, "labels", since=since, limit=None, client=client)
    labels.reverse()
    alerts = [a for a in monitoring.list_alerts(name, client=client) if a.window_end > since]
    series = drift.monitor_drift(name, since=since, limit=MAX_DRIFT_WINDOWS, client=client)
    charts = {
        "drift": window_charts.drift(series.columns, alerts),
        "predictions": window_charts.predictions(series.predictions, alerts),
        "labels": window_charts.label_metric(labels, alerts),
        "lag": window_charts.label_lag(labels, alerts),
        "latency": window_charts.latency(traffic, alerts),
        "errors": window_charts.errors(traffic, alerts),
    }
    return pages.render(
        request,
        "monitoring/model.html",
        title=f"Monitoring {name}",
        name=name,
        spec=specs[0],
        span=span,
        spans=list(SPANS),
        charts=charts,
        alerts=alerts,
        traffic=traffic,
        labels=labels,
        latest=window_charts.stats_of(traffic[-1] if traffic else None),
        baseline=series.baseline,
    )


ROUTES = [
    Route("/monitoring", index, methods=["GET"]),
    Route(f"/monitoring/{MODEL}", model_page, methods=["GET"]),
]
