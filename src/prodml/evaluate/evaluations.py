"""Running a model's suite: one version alone, or a candidate against a baseline on
the same rows, stored with links to the model and dataset versions used."""

from __future__ import annotations

from typing import Any

from prodml.client import Client
from prodml.data.refs import get_dataset
from prodml.data.stored_tables import load_table
from prodml.domain.artifact import ModelVersion
from prodml.domain.evaluation import Comparison, Evaluation
from prodml.domain.ids import new_id, utcnow
from prodml.errors import InvalidInputError, NotFoundError
from prodml.evaluate import engine, gates, records
from prodml.evaluate import suite as suites
from prodml.evaluate.answers import Answer
from prodml.evaluate.engine import Scored, Valset
from prodml.predict import loading
from prodml.predict.predictor import Predictor


def register_suite(client: Client, name: str, document: dict[str, Any]) -> int:
    """Check and store a suite as the next suite version of model ``name``."""
    client.metadata.get_model_version(name, None)
    suites.parse(document)
    return client.metadata.add_suite(name, document)


def load_suite(client: Client, name: str, version: int | None = None) -> suites.Suite:
    stored = client.metadata.get_suite(name, version)
    return suites.parse(stored.document, stored.version)


def valsets(client: Client, suite: suites.Suite) -> list[Valset]:
    """The suite's validation and scenario sets: a bare name is its latest version."""
    found = []
    for ref, scenario in [
        *((r, False) for r in suite.valsets),
        *((r, True) for r in suite.scenarios),
    ]:
        field = "scenarios" if scenario else "validation_sets"
        try:
            version = get_dataset(client, ref)
        except NotFoundError:
            raise NotFoundError(
                f"Suite field {field!r} names {ref!r}, which is not a dataset in this store. "
                "Log it (prodml valsets add NAME FILE) or fix the suite."
            ) from None
        found.append(Valset(version.ref, version.id, load_table(client, version), scenario))
    return found


def evaluate(
    client: Client, ref: str, suite_version: int | None = None, answer: Answer | None = None
) -> Evaluation:
    """Score a model version with its suite and store the result (``answer``: how the
    model's answers are computed, e.g. in parts on Ray; default in this process)."""
    predictor = loading.predictor(client, ref)
    suite = load_suite(client, predictor.version.name, suite_version)
    sets = valsets(client, suite)
    (scored,) = engine.run(suite, [predictor], sets, answer)
    evaluation = _evaluation(client, suite, predictor, sets, scored)
    client.metadata.add_evaluation(
        evaluation.id, predictor.version.id, suite.version, records.to_document(evaluation),
        [v.id for v in sets],
    )  # fmt: skip
    return evaluation


def compare(
    client: Client,
    name: str,
    baseline: str | ModelVersion | None,
    candidate: str | ModelVersion,
    answer: Answer | None = None,
) -> Comparison:
    """Candidate against baseline (a version, alias or None) on the same rows and
    resamples, with the gate's verdict; both evaluations are stored."""
    chosen = loading.predictor(client, _ref(name, candidate))
    suite = load_suite(client, chosen.version.name)
    before = None if baseline is None else loading.predictor(client, _ref(name, baseline))
    if before is not None and before.version.id == chosen.version.id:
        raise InvalidInputError(f"Both sides are {chosen.ref}; compare two different versions.")
    sets = valsets(client, suite)
    predictors = [chosen] if before is None else [before, chosen]
    scored = engine.run(suite, predictors, sets, answer)
    candidate_scored = scored[-1]
    base_eval = None if before is None else _evaluation(client, suite, before, sets, scored[0])
    cand_eval = _evaluation(client, suite, chosen, sets, candidate_scored)
    diffs = [] if before is None else engine.differences(suite, scored[0], candidate_scored)
    gate = gates.judge(suite, cand_eval, base_eval, diffs)
    ids = [v.id for v in sets]
    if base_eval is not None and before is not None:
        client.metadata.add_evaluation(
            base_eval.id, before.version.id, suite.version, records.to_document(base_eval), ids
        )
    client.metadata.add_evaluation(
        cand_eval.id, chosen.version.id, suite.version,
        records.comparison_document(cand_eval, gate, diffs), ids,
        base_eval.id if base_eval else None, gate.verdict.value,
    )  # fmt: skip
    return Comparison(base_eval, cand_eval, tuple(diffs), gate)


def _ref(name: str, side: str | ModelVersion) -> str | ModelVersion:
    if isinstance(side, ModelVersion):
        return side
    text = str(side)
    return text if "@" in text else f"{name}@{text}"


def _evaluation(
    client: Client, suite: suites.Suite, predictor: Predictor, sets: list[Valset], scored: Scored
) -> Evaluation:
    return Evaluation(
        id=new_id(),
        model=predictor.ref,
        model_id=predictor.version.id,
        suite_version=suite.version,
        valsets=tuple(v.ref for v in sets),
        slices=dict(scored.slices),
        scores=tuple(scored.scores),
        findings=tuple(scored.findings),
        created_at=utcnow(),
        author=client.settings.user,
        higher_is_better=dict(scored.higher_is_better),
        guardrails=predictor.guardrails.version if predictor.guardrails else None,
        resamples=suite.resamples,
        confidence=suite.confidence,
    )


def stored(client: Client, ref: str) -> list[Evaluation]:
    version = loading.get(client, ref)
    return [records.from_document(e.document) for e in client.metadata.evaluations(version.id)]
