"""Models: every model, a model's versions and its aliases over time, a version with
its evaluation per slice, the gate's verdict and why, guardrails and sign-off, and
two versions compared. Every page takes ``?as_of=`` (aliases resolved then)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from prodml import times
from prodml.domain.artifact import ModelVersion
from prodml.errors import AccessDeniedError, InvalidInputError, NotFoundError
from prodml.sdk import approvals, models
from prodml.ui import links, model_charts, pages, session
from prodml.ui.pages import client_of
from prodml.ui.paths import NAME

NAV = ("Models", "/models", 30)
MAX_TIME = 64
MAX_REF = 200
MAX_REASON = 2000
MAX_VERSIONS = 200  # newest first on a model's page


def _text(request: Request, key: str, limit: int) -> str:
    text = (request.query_params.get(key) or "").strip()
    if len(text) > limit:
        raise InvalidInputError(f"The {key} parameter is longer than {limit} characters.")
    return text


def _as_of(request: Request) -> tuple[str, datetime | None]:
    text = _text(request, "as_of", MAX_TIME)
    return text, times.moment(text, "As of") if text else None


def _path(request: Request, key: str) -> str:
    value = str(request.path_params[key])
    if not value or len(value) > MAX_REF:
        raise InvalidInputError(f"The model {key} in the address is empty or too long.")
    return value


async def index(request: Request) -> Response:
    found = models.list_models(client=client_of(request))
    return pages.render(
        request, "models/index.html", title="Models", models=found, page_of=links.page_of
    )


async def model_page(request: Request) -> Response:
    client = client_of(request)
    name = _path(request, "name")
    as_of_text, moment = _as_of(request)
    history = models.model_history(name, moment, client=client)
    versions = models.list_model_versions(name, MAX_VERSIONS, client=client)
    if moment is not None:
        versions = [v for v in versions if v.created_at <= moment]
    named: dict[int, list[str]] = {}
    for alias, number in sorted(history.aliases.items()):
        named.setdefault(number, []).append(alias)
    until = moment or datetime.now().astimezone()
    moves = [m for m in history.moves if m.at <= until]
    return pages.render(
        request,
        "models/model.html",
        title=f"Model {name}",
        name=name,
        as_of=as_of_text,
        moment=moment,
        aliases=history.aliases,
        named=named,
        moves=list(reversed(moves)),
        versions=versions,
        timeline=model_charts.alias_timeline(moves, until) if moves else None,
        sign_off=approvals.approvals(name, as_of=moment, client=client),
        page_of=links.page_of,
        lineage_of=links.lineage_of,
    )


async def version_page(request: Request) -> Response:
    client = client_of(request)
    name, asked = _path(request, "name"), _path(request, "version")
    as_of_text, moment = _as_of(request)
    version = models.get_model(f"{name}@{asked}", client=client, as_of=moment)
    details = models.describe_model(version.ref, client=client)
    history = models.model_history(name, moment, client=client)
    evaluations = _until(details.evaluations, moment)
    gated = next((e for e in evaluations if e.get("verdict")), None)
    latest = _suite_first(evaluations)
    rows = model_charts.estimate_rows(latest.get("scores", []), version.ref) if latest else []
    signed = approvals.approvals(name, version.version, as_of=moment, client=client)
    rules = models.guardrails_text(version.ref, client=client)
    user = session.session_of(request).user
    return pages.render(
        request,
        "models/version.html",
        title=f"Model {version.ref}",
        name=name,
        asked=asked,
        version=version,
        details=details,
        rules=rules,
        as_of=as_of_text,
        moment=moment,
        aliases=sorted(a for a, v in history.aliases.items() if v == version.version),
        champion=history.aliases.get("champion"),
        latest=latest,
        gated=gated,
        estimates=model_charts.intervals(rows) if rows else None,
        scores=_score_rows(latest),
        sign_off=signed,
        may_approve=user is not None and user in signed.missing and moment is None,
        page_of=links.page_of,
        lineage_of=links.lineage_of,
    )


def _suite_first(evaluations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest evaluation by the model's suite; a backfilled metric only when there
    is nothing else (a one-metric backfill is not the version's report card)."""
    whole = [e for e in evaluations if "backfill" not in e] or evaluations
    return whole[0] if whole else None


def _until(evaluations: list[dict[str, Any]], moment: datetime | None) -> list[dict[str, Any]]:
    """The evaluations made by ``moment`` (all of them without one)."""
    if moment is None:
        return evaluations
    return [e for e in evaluations if times.parse(str(e["created_at"]), "created_at") <= moment]


def _score_rows(evaluation: dict[str, Any] | None) -> list[dict[str, Any]]:
    if evaluation is None:
        return []
    return [
        {**score, **score.get("estimate", {})}
        for score in evaluation.get("scores", [])[: model_charts.MAX_POINTS]
    ]


async def compare_page(request: Request) -> Response:
    client = client_of(request)
    name = _path(request, "name")
    as_of_text, moment = _as_of(request)
    history = models.model_history(name, moment, client=client)
    first = _text(request, "a", MAX_REF) or ("champion" if "champion" in history.aliases else "")
    second = _text(request, "b", MAX_REF) or (
        "challenger" if "challenger" in history.aliases else "latest"
    )
    if not first:
        raise NotFoundError(
            f"Model {name!r} has no champion to compare with; choose two versions: "
            f"/models/{name}/compare?a=1&b=2"
        )
    baseline = models.get_model(f"{name}@{first}", client=client, as_of=moment)
    candidate = models.get_model(f"{name}@{second}", client=client, as_of=moment)
    before = _until(models.describe_model(baseline.ref, client=client).evaluations, moment)
    after = _until(models.describe_model(candidate.ref, client=client).evaluations, moment)
    paired, base = _paired(before, after)
    rows = [
        *model_charts.estimate_rows(base.get("scores", []) if base else [], baseline.ref),
        *model_charts.estimate_rows(paired.get("scores", []) if paired else [], candidate.ref),
    ]
    return pages.render(
        request,
        "models/compare.html",
        title=f"{baseline.ref} vs {candidate.ref}",
        name=name,
        as_of=as_of_text,
        a=first,
        b=second,
        baseline=baseline,
        candidate=candidate,
        paired=paired,
        base=base,
        differences=(paired or {}).get("differences", []),
        gate=(paired or {}).get("gate"),
        estimates=model_charts.intervals(rows) if rows else None,
        aliases=history.aliases,
        page_of=links.page_of,
    )


def _paired(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The candidate's latest evaluation against the baseline's (on the same rows) and
    that baseline evaluation; else each side's latest evaluation, not paired."""
    by_id = {evaluation["id"]: evaluation for evaluation in before}
    for evaluation in after:
        if evaluation.get("baseline_id") in by_id:
            return evaluation, by_id[evaluation["baseline_id"]]
    return _suite_first(after), _suite_first(before)


def _reason(value: object) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > MAX_REASON:
        raise InvalidInputError(f"The reason is longer than {MAX_REASON} characters.")
    return text or None


async def approve(request: Request) -> Response:
    acting, form = await session.acting_client(request)
    name, asked = _path(request, "name"), _path(request, "version")
    if session.session_of(request).user is None:
        raise AccessDeniedError(
            "Log in with your token to approve: an approval is recorded under the name of "
            "the token that gives it."
        )
    approval = approvals.approve(name, asked, _reason(form.get("why")), client=acting)
    target = links.page_of("model", f"{name}@{approval.version}") or "/models"
    return RedirectResponse(target, status_code=303)


async def promote(request: Request) -> Response:
    acting, form = await session.acting_client(request)
    name, asked = _path(request, "name"), _path(request, "version")
    version: ModelVersion = models.get_model(f"{name}@{asked}", client=acting)
    models.promote(
        name,
        version.version,
        why=_reason(form.get("why")),
        force=form.get("force") == "on",
        client=acting,
    )
    target = links.page_of("model", f"{name}@{version.version}") or "/models"
    return RedirectResponse(target, status_code=303)


ROUTES = [
    Route("/models", index, methods=["GET"]),
    Route(f"/models/{NAME}", model_page, methods=["GET"]),
    Route(f"/models/{NAME}/compare", compare_page, methods=["GET"]),
    Route(f"/models/{NAME}/{{version}}", version_page, methods=["GET"]),
    Route(f"/models/{NAME}/{{version}}/approve", approve, methods=["POST"]),
    Route(f"/models/{NAME}/{{version}}/promote", promote, methods=["POST"]),
]
