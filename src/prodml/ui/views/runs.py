"""Runs: search with the filter language (a sortable table with chosen config and
metric columns, pages, parallel coordinates of config against a metric), a run's
page (hypothesis, config, params, inputs, code, environment, artifacts, lineage,
metric curves) and 2 to 10 runs compared side by side with their curves overlaid."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prodml.domain.run import MetricPoint, Run, flatten_config
from prodml.domain.run_query import quoted_value
from prodml.errors import InvalidInputError
from prodml.sdk.runs import metric_history, run_details, search_runs
from prodml.ui import links, pages, run_charts, run_tables
from prodml.ui.pages import client_of

NAV = ("Runs", "/runs", 10)
MAX_TEXT = {"filter": 4096, "order": 300, "columns": 2000, "page": 200, "metric": 255}
MAX_COLUMNS = 20
PAGE_SIZES = (10, 25, 50, 100, 200)
MAX_CURVES = 12  # metric charts on a run's page
MAX_COMPARED = 10
MAX_CHILDREN = 200  # a pipeline's steps or a sweep's trials listed on its run's page
_COLUMN = re.compile(r"^((metrics|params|config|tags)\.[A-Za-z0-9_.\-/]{1,255}|[a-z]+)$")
_RUN_ID = re.compile(r"^[0-9a-f]{6,64}$")


def _text(request: Request, key: str) -> str:
    text = (request.query_params.get(key) or "").strip()
    if len(text) > MAX_TEXT[key]:
        raise InvalidInputError(f"The {key} parameter is longer than {MAX_TEXT[key]} characters.")
    return text


def _columns(text: str) -> list[str]:
    columns = list(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    bad = [c for c in columns if not _COLUMN.match(c)]
    if bad or len(columns) > MAX_COLUMNS:
        raise InvalidInputError(
            f"Columns {bad or columns[MAX_COLUMNS:]} are not valid: give up to {MAX_COLUMNS} of "
            "metrics.KEY, params.KEY, config.KEY, tags.KEY, status, started, ... "
            "separated by commas."
        )
    return columns


def _limit(request: Request) -> int:
    text = request.query_params.get("limit") or "50"
    if not (text.isascii() and text.isdigit()) or int(text) not in PAGE_SIZES:
        raise InvalidInputError(f"limit is one of {', '.join(map(str, PAGE_SIZES))}.")
    return int(text)


async def index(request: Request) -> Response:
    asked = {key: (request.query_params.get(key) or "").strip() for key in MAX_TEXT}
    descending = request.query_params.get("desc") == "1"
    limit = _limit(request)
    context: dict[str, Any] = {"asked": {k: v[: MAX_TEXT[k]] for k, v in asked.items()}}
    context.update(descending=descending, limit=limit, sizes=PAGE_SIZES, title="Runs")
    context.update(link=_link(context["asked"], descending, limit), page_of=links.page_of)
    try:
        for key in MAX_TEXT:
            _text(request, key)
        columns = _columns(asked["columns"])
        order = f"{asked['order']} {'desc' if descending else 'asc'}" if asked["order"] else None
        found = search_runs(
            asked["filter"], order, limit, asked["page"] or None, client=client_of(request)
        )
    except InvalidInputError as error:
        empty: dict[str, Any] = {"found": None, "columns": [], "headers": [], "rows": []}
        return pages.render(
            request,
            "runs/index.html",
            400,
            problem=str(error),
            metric="",
            parallel=None,
            **empty,
            **context,
        )
    runs = list(found.runs)
    shown = columns or run_tables.default_columns(runs)
    metric = asked["metric"] or run_tables.default_metric(runs, shown, asked["order"])
    return pages.render(
        request,
        "runs/index.html",
        problem=None,
        found=found,
        columns=shown,
        headers=[_header(asked, descending, limit, column) for column in shown],
        rows=[(run, [run_tables.cell(run, column) for column in shown]) for run in runs],
        parallel=run_charts.parallel(runs, metric) if metric else None,
        metric=metric,
        **context,
    )


def _link(asked: dict[str, str], descending: bool, limit: int, **changes: Any) -> str:
    query = {**asked, "desc": "1" if descending else "", "limit": str(limit), **changes}
    return "/runs?" + urlencode({key: value for key, value in query.items() if value})


def _header(asked: dict[str, str], descending: bool, limit: int, column: str) -> dict[str, Any]:
    """A column's sort link: ascending first, then the other way; the page restarts."""
    current = asked["order"] == column
    flip = not descending if current else False
    href = _link(asked, flip, limit, order=column, page="")
    arrow = (" ↓" if descending else " ↑") if current else ""
    return {"name": column, "href": href, "arrow": arrow}


def _run_id(text: str) -> str:
    if not _RUN_ID.match(text):
        raise InvalidInputError(
            f"{text[:70]!r} is not a run id: give 6 to 64 hex characters, as listed on /runs."
        )
    return text


async def run_page(request: Request) -> Response:
    client = client_of(request)
    details = run_details(_run_id(str(request.path_params["run_id"])), client=client)
    run = details.run
    charts = []
    for key in sorted(run.metrics)[:MAX_CURVES]:
        points = metric_history(run.id, key, client=client)
        if len(points) > 1:
            charts.append(run_charts.curves({run.id[:12]: points}, key))
    git = run.environment.get("git", {}) if isinstance(run.environment, dict) else {}
    children = search_runs(
        f"tags.`prodml.parent` = {quoted_value(run.id)}", "started", MAX_CHILDREN, client=client
    )
    return pages.render(
        request,
        "runs/run.html",
        title=f"Run {run.id[:12]}",
        run=run,
        details=details,
        config=sorted(flatten_config(run.config).items()),
        environment=run_tables.environment_rows(run.environment),
        git=git if isinstance(git, dict) else {},
        charts=charts,
        single=[k for k in sorted(run.metrics) if k not in {c["title"] for c in charts}],
        children=children.runs,
        more_children=children.total - len(children.runs),
        page_of=links.page_of,
        lineage_of=links.lineage_of,
    )


def _compared_ids(request: Request) -> list[str]:
    raw = request.query_params.getlist("id") or []
    for text in request.query_params.getlist("ids"):
        raw += text.split(",")
    ids = list(dict.fromkeys(_run_id(text.strip()) for text in raw if text.strip()))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise InvalidInputError(
            f"Compare 2 to {MAX_COMPARED} runs, not {len(ids)}: tick them on /runs, "
            "or give ?ids=RUN,RUN."
        )
    return ids


async def compare_page(request: Request) -> Response:
    client = client_of(request)
    details = [run_details(run_id, client=client) for run_id in _compared_ids(request)]
    runs = [d.run for d in details]
    keys = sorted({key for run in runs for key in run.metrics})
    metric = _text(request, "metric") or _curve_metric(runs, keys, client)
    if metric and metric not in keys:
        raise InvalidInputError(f"No compared run has metric {metric!r}; they have {keys}.")
    histories: dict[str, list[MetricPoint]] = {}
    if metric:
        for run in runs:
            if metric in run.metrics:
                histories[run.id[:12]] = metric_history(run.id, metric, client=client)
    only_changes = request.query_params.get("changes") == "1"
    sections = run_tables.comparison(details)
    if only_changes:
        sections = [(title, [row for row in rows if row.differs]) for title, rows in sections]
    return pages.render(
        request,
        "runs/compare.html",
        title=f"Compare {len(runs)} runs",
        runs=runs,
        sections=sections,
        only_changes=only_changes,
        metric=metric,
        metrics=keys,
        curves=run_charts.curves(histories, metric) if histories else None,
        ids=",".join(run.id for run in runs),
        page_of=links.page_of,
    )


def _curve_metric(runs: list[Run], keys: list[str], client: Any) -> str:
    """The metric drawn by default: one every run has, with a history if any has one."""
    common = [k for k in keys if all(k in run.metrics for run in runs)] or keys
    for key in common[:MAX_CURVES]:
        if len(metric_history(runs[0].id, key, client=client)) > 1:
            return key
    return common[0] if common else ""


ROUTES = [
    Route("/runs", index),
    Route("/runs/compare", compare_page),
    Route("/runs/{run_id}", run_page),
]
