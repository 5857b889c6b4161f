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

from collections.abc import Mapping
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
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        raise InvalidInputError(
            "Guardrails must be a mapping with a 'rules' list, e.g. rules: "
            '[{name: cap, when: "amount > 10000", set: 0}].'
        )
    rules = tuple(_rule(item, f"rules[{i}]") for i, item in enumerate(document["rules"]))
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise InvalidInputError("Guardrail rule names must be unique; rename the repeated one.")
    return Guardrails(rules, version)


def _rule(item: Any, field: str) -> GuardrailRule:
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise InvalidInputError(f"Guardrail {field} must be a mapping with a 'name'.")
    known = {"name", "when", "confidence_below", "set", "abstain", "clip"}
    if set(item) - known:
        extra = ", ".join(sorted(set(item) - known))
        raise InvalidInputError(
            f"Guardrail {field} has unknown field(s) {extra}; known: {', '.join(sorted(known))}."
        )
    actions = [key for key in ("set", "abstain", "clip") if key in item]
    if len(actions) != 1:
        raise InvalidInputError(
            f"Guardrail {field} ({item['name']}) needs exactly one action: set, abstain or clip."
        )
    clip = item.get("clip")
    if clip is not None and not (
        isinstance(clip, list) and len(clip) == 2 and all(isinstance(v, int | float) for v in clip)
    ):
        raise InvalidInputError(f"Guardrail {field}.clip must be [low, high], e.g. [0, 600].")
    below = item.get("confidence_below")
    if below is not None and not (isinstance(below, int | float) and 0 < below <= 1):
        raise InvalidInputError(f"Guardrail {field}.confidence_below must be a number in (0, 1].")
    when = item.get("when")
    return GuardrailRule(
        name=item["name"],
        when=None if when is None else where_of(when, f"guardrail {field}.when"),
        confidence_below=None if below is None else float(below),
        set=item.get("set"),
        abstain=bool(item.get("abstain", False)),
        clip=None if clip is None else (float(clip[0]), float(clip[1])),
    )


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
