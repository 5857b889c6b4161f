"""Hindsight metrics: one metric for every stored version of a model on one validation
set version, each version loaded and scored by the evaluation engine (a suite of that
one metric, built here) and stored as an evaluation linked to the model version and
the dataset version. A version already backfilled with the same metric, set and
slices is read back, unless forced; a version that cannot be loaded or scored is
reported with why, and the others go on."""

from __future__ import annotations

from collections.abc import Callable

from prodml.client import Client
from prodml.data.stored_tables import load_table
from prodml.domain.artifact import ModelVersion
from prodml.domain.backfill import Backfill, BackfilledVersion, BackfillStatus
from prodml.domain.evaluation import ALL, Estimate, Evaluation, EvaluationFinding
from prodml.domain.ids import new_id, utcnow
from prodml.errors import MetricFunctionError, NotFoundError, ProdmlError, echoed
from prodml.evaluate import engine, records
from prodml.evaluate.backfill_request import MARK, Request, request
from prodml.evaluate.engine import Scored, Valset
from prodml.predict import loading
from prodml.predict import slices as slicing

Progress = Callable[[int, int], None]  # (versions done, versions in all)
PAGE = 500


def backfill(
    client: Client,
    name: str,
    metric: str,
    valset: str | None = None,
    slices: tuple[str, ...] = (),
    *,
    force: bool = False,
    label: str | None = None,
    task: str | None = None,
    kind: str = "table",
    higher_is_better: bool | None = None,
    progress: Progress | None = None,
) -> Backfill:
    """``metric`` for every version of model ``name``, oldest first; ``label``, ``task``,
    ``kind`` and ``higher_is_better`` as :func:`~prodml.evaluate.backfill_request.request`
    reads them."""
    versions = model_versions(client, name)
    asked = request(
        client,
        name,
        metric,
        valset,
        slices,
        label=label,
        task=task,
        kind=kind,
        higher_is_better=higher_is_better,
    )
    table = load_table(client, asked.dataset)
    target = Valset(asked.dataset.ref, asked.dataset.id, table)
    wheres = asked.wheres(table)
    # a slice that cannot be applied is refused once, not as a failure of every version
    slicing.masks(table, {k: v for k, v in wheres.items() if k != ALL}, target.ref)
    done: list[BackfilledVersion] = []
    for version in versions:
        if progress is not None:
            progress(len(done), len(versions))
        kept = None if force else _stored(client, version, asked, wheres)
        scored_any = any(v.status is not BackfillStatus.FAILED for v in done)
        done.append(kept or _scored(client, version, asked, target, wheres, scored_any))
    if progress is not None:
        progress(len(done), len(versions))
    return Backfill(
        model=name,
        metric=asked.metric,
        function=asked.function,
        higher_is_better=asked.higher_is_better,
        valset=asked.dataset.ref,
        valset_id=asked.dataset.id,
        slices=wheres,
        confidence=asked.suite.confidence,
        resamples=asked.suite.resamples,
        versions=tuple(done),
    )


def model_versions(client: Client, name: str) -> list[ModelVersion]:
    """Every stored version of ``name``, oldest first."""
    found: list[ModelVersion] = []
    while True:
        before = found[-1].version if found else None
        page = client.metadata.model_versions(name, PAGE, before)
        found += page
        if len(page) < PAGE:
            break
    if not found:
        raise NotFoundError(
            f"models: no model named {echoed(name)} in this store. List models: prodml models list"
        )
    return sorted(found, key=lambda version: (version.created_at, version.version))


def _stored(
    client: Client, version: ModelVersion, asked: Request, wheres: dict[str, str]
) -> BackfilledVersion | None:
    """The values of an earlier backfill of the same metric and set for every slice
    asked (each slice with the same condition), newest first; None if one is missing."""
    found: dict[str, tuple[Estimate, Evaluation]] = {}
    for record in client.metadata.evaluations(version.id):
        if record.result.get(MARK) != asked.identity:
            continue
        evaluation = records.from_document(record.result)
        for slice_name, where in wheres.items():
            if slice_name in found or evaluation.slices.get(slice_name, "") != where:
                continue
            estimate = evaluation.estimate(evaluation.valsets[0], slice_name, asked.metric)
            if estimate is not None:
                found[slice_name] = (estimate, evaluation)
    if len(found) < len(wheres):
        return None
    whole = found[ALL][1]
    return _version(
        version,
        BackfillStatus.STORED,
        values={slice_name: found[slice_name][0] for slice_name in wheres},
        evaluation_id=whole.id,
        findings=whole.findings,
    )


def _scored(
    client: Client,
    version: ModelVersion,
    asked: Request,
    target: Valset,
    wheres: dict[str, str],
    scored_any: bool,
) -> BackfilledVersion:
    """``version`` scored and stored, or failed saying why. A metric function that fails
    before any version was scored with it stops the backfill: it would fail every one."""
    try:
        predictor = loading.predictor(client, version)
    except ProdmlError as error:
        return _failed(
            version,
            f"Loading {version.ref} failed: {error} Then run the backfill again (the "
            "versions scored are kept).",
        )
    try:
        (scored,) = engine.run(asked.suite, [predictor], [target])
    except MetricFunctionError as error:  # the metric's fault, not the set's
        if not scored_any:
            raise MetricFunctionError(
                f"{version.ref}, the first version scored, cannot be scored on {target.ref}: "
                f"{error} Nothing was recorded."
            ) from None
        return _failed(
            version,
            f"{version.ref} cannot be scored on {target.ref}: {error} Then run the backfill "
            "again (the versions scored are kept).",
        )
    except ProdmlError as error:
        return _failed(
            version,
            f"{version.ref} cannot be scored on {target.ref}: {error} Give a validation "
            "set this version can read (--valset NAME@V).",
        )
    values = _values(scored, target.ref, asked.metric, wheres)
    unusable = _why_unusable(scored, values, version, target.ref)
    if unusable:
        return _failed(version, unusable, scored)
    evaluation = _evaluation(client, asked, version, target, scored)
    document = {**records.to_document(evaluation), MARK: asked.identity}
    client.metadata.add_evaluation(
        evaluation.id, version.id, asked.suite.version, document, [target.id]
    )
    return _version(
        version,
        BackfillStatus.COMPUTED,
        values=values,
        evaluation_id=evaluation.id,
        findings=tuple(scored.findings),
    )


def _values(
    scored: Scored, valset: str, metric: str, wheres: dict[str, str]
) -> dict[str, Estimate]:
    found = {s.slice: s.estimate for s in scored.scores if (s.valset, s.metric) == (valset, metric)}
    return {slice_name: found[slice_name] for slice_name in wheres if slice_name in found}


def _why_unusable(
    scored: Scored, values: dict[str, Estimate], version: ModelVersion, valset: str
) -> str | None:
    """Why nothing worth storing came out: the model answered none of the rows, or the
    metric has no value on the whole set."""
    whole = values.get(ALL)
    raised = [f.message for f in scored.findings if f.kind == "model_error"]
    if raised and (whole is None or whole.rows == 0):
        return (
            f"{version.ref} answered none of the rows of {valset}: {' '.join(raised)} Check "
            "that the set has the columns this version was fitted on, or give another --valset."
        )
    if whole is None:
        reasons = [f.message for f in scored.findings if f.slice in (None, ALL)]
        return (
            f"{version.ref} has no value on {valset}: {' '.join(reasons) or 'no score came out.'} "
            "Choose a metric this version can give, or another validation set."
        )
    return None


def _evaluation(
    client: Client, asked: Request, version: ModelVersion, target: Valset, scored: Scored
) -> Evaluation:
    return Evaluation(
        id=new_id(),
        model=version.ref,
        model_id=version.id,
        suite_version=asked.suite.version,
        valsets=(target.ref,),
        slices=dict(scored.slices),
        scores=tuple(scored.scores),
        findings=tuple(scored.findings),
        created_at=utcnow(),
        author=client.settings.user,
        higher_is_better=dict(scored.higher_is_better),
        resamples=asked.suite.resamples,
        confidence=asked.suite.confidence,
    )


def _failed(version: ModelVersion, error: str, scored: Scored | None = None) -> BackfilledVersion:
    found = tuple(scored.findings) if scored is not None else ()
    return _version(version, BackfillStatus.FAILED, values={}, error=error, findings=found)


def _version(
    version: ModelVersion,
    status: BackfillStatus,
    *,
    values: dict[str, Estimate],
    evaluation_id: str | None = None,
    error: str | None = None,
    findings: tuple[EvaluationFinding, ...] = (),
) -> BackfilledVersion:
    return BackfilledVersion(
        model=version.ref,
        version=version.version,
        model_id=version.id,
        created_at=version.created_at,
        status=status,
        values=values,
        evaluation_id=evaluation_id,
        error=error,
        findings=findings,
    )
