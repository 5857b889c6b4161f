"""Guardrail rules: post-prediction filters and overrides kept beside a model version.

::

    rules:
      - {name: never-approve-large, when: "amount > 10000", set: 0}
      - {name: unsure, confidence_below: 0.6, abstain: true}
      - {name: sane-delays, clip: [-60, 600]}

Rules apply in order to every prediction, in evaluation and in serving alike. ``set``
replaces the answer, ``abstain`` withholds it (served as null, counted against
coverage), ``clip`` bounds a number. ``when`` is SQL over the input row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.errors import InvalidInputError
from prodml.predict.slices import masks, where_of


@dataclass(frozen=True)
class GuardrailRule:
    name: str
    when: str | None = None
    confidence_below: float | None = None
    set: Any = None
    abstain: bool = False
    clip: tuple[float, float] | None = None


@dataclass(frozen=True)
class Guardrails:
    rules: tuple[GuardrailRule, ...]
    version: int = 0


@dataclass
class Answers:
    """Predictions as rules see them: ``predicted`` values (class labels or numbers),
    ``confidence`` of the predicted class (None without probabilities) and ``answered``."""

    predicted: np.ndarray
    confidence: np.ndarray | None
    answered: np.ndarray


def parse(document: Any, version: int = 0) -> Guardrails:
    """Rules from their document; every mistake is refused naming its rule and field."""
    from prodml import documents
    from prodml.predict.guardrails_document import GuardrailsDocument

    doc = documents.check(GuardrailsDocument, document, "Guardrails")
    rules = tuple(
        GuardrailRule(
            name=rule.name,
            when=None if rule.when is None else where_of(rule.when, f"rules[{index}].when"),
            confidence_below=rule.confidence_below,
            set=rule.set,
            abstain=rule.abstain,
            clip=None if rule.clip is None else (rule.clip[0], rule.clip[1]),
        )
        for index, rule in enumerate(doc.rules)
    )
    return Guardrails(rules, version)


def apply(guardrails: Guardrails, rows: pa.Table, answers: Answers) -> dict[str, int]:
    """Apply every rule in order, changing ``answers`` in place; how many rows each changed."""
    conditions = masks(
        rows, {r.name: r.when for r in guardrails.rules if r.when is not None}, "the rows"
    )
    hits: dict[str, int] = {}
    for rule in guardrails.rules:
        selected = answers.answered.copy()
        if rule.when is not None:
            selected &= conditions[rule.name]
        if rule.confidence_below is not None:
            if answers.confidence is None:
                raise InvalidInputError(
                    f"Guardrail {rule.name!r} uses confidence_below, but the model gives no "
                    "probabilities (no predict_proba). Use 'when' instead."
                )
            selected &= answers.confidence < rule.confidence_below
        if rule.abstain:
            answers.answered &= ~selected
        elif rule.clip is not None:
            values = answers.predicted.astype(np.float64)
            clipped = np.clip(values, *rule.clip)
            selected &= clipped != values
            if selected.any():  # integer answers stay integers unless a bound is a fraction
                merged = np.where(selected, clipped, values)
                whole = answers.predicted.dtype.kind in "iu" and np.all(merged % 1 == 0)
                answers.predicted = merged.astype(answers.predicted.dtype) if whole else merged
        else:
            selected &= answers.predicted != rule.set
            answers.predicted = answers.predicted.copy()
            answers.predicted[selected] = rule.set
        hits[rule.name] = int(selected.sum())
    return hits
