"""Datasets: the versions of each, a version's schema, column profiles and latest
validation, the diff of two versions, and the validation's HTML report."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from prodml.domain.dataset import DatasetVersion, FileEntry
from prodml.domain.distribution import ColumnDistribution, ColumnShift
from prodml.errors import InvalidInputError, NotFoundError
from prodml.sdk import datasets
from prodml.ui import links, pages
from prodml.ui.pages import client_of
from prodml.ui.paths import NAME

NAV = ("Datasets", "/datasets", 20)
MAX_NAME = 200
MAX_VERSION = 64
MAX_PROFILE_CHARTS = 60  # wider tables show the rest of their columns in the table only
MAX_SHIFT_CHARTS = 12
MAX_VERDICTS = 200  # versions whose validation the versions page looks up, newest first
MAX_FILES = 500  # of a files-kind version, listed by path
# The report is another program's page: it may style itself, and nothing else.
REPORT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _bounded(value: str, limit: int, what: str) -> str:
    if not value or len(value) > limit:
        raise InvalidInputError(f"The {what} must be 1 to {limit} characters long.")
    return value


def _version(request: Request, name: str, version: str) -> DatasetVersion:
    ref = f"{_bounded(name, MAX_NAME, 'dataset name')}@{_bounded(version, MAX_VERSION, 'version')}"
    return datasets.get_dataset(ref, client=client_of(request))


async def index(request: Request) -> Response:
    latest: dict[str, DatasetVersion] = {}
    counts: dict[str, int] = {}
    for version in datasets.list_datasets(client=client_of(request)):
        counts[version.name] = counts.get(version.name, 0) + 1
        if version.name not in latest or version.version > latest[version.name].version:
            latest[version.name] = version
    rows = sorted(latest.values(), key=lambda v: v.created_at, reverse=True)
    return pages.render(
        request,
        "datasets/index.html",
        title="Datasets",
        latest=rows,
        counts=counts,
        verdicts=_verdicts(request, rows),
    )


async def versions(request: Request) -> Response:
    name = _bounded(request.path_params["name"], MAX_NAME, "dataset name")
    found = datasets.list_datasets(name, client=client_of(request))
    if not found:
        raise NotFoundError(f"No dataset is named {name!r}. See what there is at /datasets.")
    found.sort(key=lambda v: v.version, reverse=True)
    return pages.render(
        request,
        "datasets/versions.html",
        title=f"Dataset {name}",
        name=name,
        versions=found,
        verdicts=_verdicts(request, found[:MAX_VERDICTS]),
    )


def _verdicts(request: Request, versions: list[DatasetVersion]) -> dict[str, tuple[str, str]]:
    """The latest validation's verdict of each version validated: (word, badge class)."""
    found = {}
    for version in versions:
        recorded = datasets.latest_validation(version, client=client_of(request), charts=False)
        if recorded is not None:
            result = recorded.result
            found[version.id] = (
                ("blocked", "bad")
                if result.blocked
                else ("needs attention", "warn")
                if result.alarm
                else ("passed", "ok")
            )
    return found


async def version_page(request: Request) -> Response:
    version = _version(request, request.path_params["name"], request.path_params["version"])
    client = client_of(request)
    profile: tuple[ColumnDistribution, ...] = ()
    files: list[FileEntry] = []
    if version.kind.value == "table":
        profile = datasets.column_distributions(version, client=client)
    else:
        files = datasets.list_dataset_files(version, client=client)
    validation = datasets.latest_validation(version, client=client, charts=False)
    return pages.render(
        request,
        "datasets/version.html",
        title=f"Dataset {version.ref}",
        version=version,
        profile=profile,
        files=files[:MAX_FILES],
        charts={c.column: _profile_chart(c) for c in profile[:MAX_PROFILE_CHARTS]},
        missing_chart=_missing_chart(profile) if profile else None,
        validation=validation,
        shown=_shown,
        lineage=links.lineage_of(f"dataset:{version.ref}"),
        report=f"{links.page_of('dataset', version.ref)}/report",
    )


def _pair(request: Request) -> tuple[list[DatasetVersion], DatasetVersion, DatasetVersion]:
    """Every version of the dataset, and the two to compare (``a`` and ``b``; by default
    the latest and the one before it)."""
    name = _bounded(request.path_params["name"], MAX_NAME, "dataset name")
    found = sorted(datasets.list_datasets(name, client=client_of(request)), key=lambda v: v.version)
    if not found:
        raise NotFoundError(f"No dataset is named {name!r}. See what there is at /datasets.")
    after = request.query_params.get("b") or str(found[-1].version)
    before = request.query_params.get("a") or str(found[max(0, len(found) - 2)].version)
    return found, _version(request, name, before), _version(request, name, after)


async def diff_page(request: Request) -> Response:
    """The shift of each column at once (from the stored profiles); the rows added,
    removed and changed arrive from ``diff_rows`` (they take a pass over both tables)."""
    found, before, after = _pair(request)
    shifts: tuple[ColumnShift, ...] = ()
    if before.kind.value == "table" and after.kind.value == "table":
        shifts = datasets.distribution_shift(before, after, client=client_of(request))
    summaries = {column.name: column for column in before.columns}
    changed = {
        c for c in {*before.schema, *after.schema} if before.schema.get(c) != after.schema.get(c)
    }
    changed |= {c.name for c in after.columns if summaries.get(c.name, c) != c}
    return pages.render(
        request,
        "datasets/diff.html",
        title=f"{before.ref} vs {after.ref}",
        name=before.name,
        versions=found,
        before=before,
        after=after,
        shifts=shifts,
        changed=changed,
        shift_charts={
            s.column: _shift_chart(s, before.ref, after.ref)
            for s in shifts[:MAX_SHIFT_CHARTS]
            if s.chart is not None
        },
    )


async def diff_rows(request: Request) -> Response:
    """The part of the diff that reads the rows: schema changes, rows added, removed and
    changed, and the column statistics that changed."""
    _, before, after = _pair(request)
    diff = datasets.diff_datasets(before.ref, after.ref, client=client_of(request))
    return pages.render(request, "datasets/diff_rows.html", diff=diff, before=before, after=after)


async def report(request: Request) -> Response:
    version = _version(request, request.path_params["name"], request.path_params["version"])
    found = datasets.latest_validation(version, client=client_of(request))
    if found is None:
        raise NotFoundError(
            f"Dataset {version.ref} has not been validated, so it has no report. "
            f"Validate it: prodml validate {version.ref} --against {version.name}"
        )
    page = datasets.validation_report(found.result, f"Validation of {version.ref}")
    return HTMLResponse(page, headers={"content-security-policy": REPORT_POLICY})


def _shown(column: ColumnDistribution, value: Any) -> str:
    """A value of the column as people read it: times as UTC dates and times."""
    if column.kind == "temporal" and isinstance(value, int | float):
        return pages.when(value / 1000.0)
    return pages.number(value)


def _profile_chart(column: ColumnDistribution) -> dict[str, Any] | None:
    if column.histogram:
        kind = "temporal" if column.kind == "temporal" else "quantitative"
        values = [
            {"low": low, "high": high, "share": share} for low, high, share in column.histogram
        ]
        return {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "description": f"Distribution of {column.column}",
            "width": 280,
            "height": 120,
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "x": {"field": "low", "type": kind, "bin": {"binned": True}, "title": None},
                "x2": {"field": "high"},
                "y": {
                    "field": "share",
                    "type": "quantitative",
                    "axis": {"format": "%"},
                    "title": "share of values",
                },
            },
        }
    if column.top:
        bars = [{"value": value, "rows": rows} for value, rows in column.top]
        return {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "description": f"Distribution of {column.column}",
            "width": 280,
            "height": {"step": 16},
            "data": {"values": bars},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "y": {"field": "value", "type": "nominal", "sort": "-x", "title": None},
                "x": {"field": "rows", "type": "quantitative", "title": "rows"},
            },
        }
    return None


def _missing_chart(profile: tuple[ColumnDistribution, ...]) -> dict[str, Any]:
    values = [{"column": c.column, "missing": c.missing_share} for c in profile]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 600,
        "height": {"step": 14},
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "column", "type": "nominal", "sort": None, "title": None},
            "x": {
                "field": "missing",
                "type": "quantitative",
                "axis": {"format": "%"},
                "scale": {"domain": [0, 1]},
                "title": "share missing (null or NaN)",
            },
        },
    }


def _shift_chart(shift: ColumnShift, before: str, after: str) -> dict[str, Any]:
    assert shift.chart is not None
    values = [
        {"range": label, "version": side, "share": share}
        for side, shares in ((before, shift.chart.reference), (after, shift.chart.current))
        for label, share in zip(shift.chart.labels, shares, strict=False)
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "description": f"Distribution of {shift.column}: {before} vs {after}",
        "width": {"step": 14},
        "height": 140,
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": "range", "type": "nominal", "sort": None, "title": None},
            "xOffset": {"field": "version", "sort": [before, after]},
            "y": {
                "field": "share",
                "type": "quantitative",
                "axis": {"format": "%"},
                "title": "share of rows",
            },
            "color": {
                "field": "version",
                "type": "nominal",
                "sort": [before, after],
                "scale": {"range": ["#adb5bd", "#5f3dc4"]},
            },
        },
    }


ROUTES = [
    Route("/datasets", index, methods=["GET"]),
    Route(f"/datasets/{NAME}", versions, methods=["GET"]),
    Route(f"/datasets/{NAME}/diff", diff_page, methods=["GET"]),
    Route(f"/datasets/{NAME}/diff/rows", diff_rows, methods=["GET"]),
    Route(f"/datasets/{NAME}/{{version}}", version_page, methods=["GET"]),
    Route(f"/datasets/{NAME}/{{version}}/report", report, methods=["GET"]),
]
