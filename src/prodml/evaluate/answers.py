"""From what a model returned (and its guardrails did) to :class:`Outcomes`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.domain.evaluation import EvaluationFinding
from prodml.errors import InvalidInputError
from prodml.evaluate.outcomes import Outcomes, Task
from prodml.predict import blocks
from prodml.predict import guardrails as rails
from prodml.predict.predictor import Predictor, Raw, answers_of

# How the model's raw answers on a table are computed: (predictor, rows, probabilities).
Answer = Callable[[Predictor, pa.Table, bool], Raw]


def index_of(values: np.ndarray, classes: tuple[Any, ...]) -> np.ndarray:
    """The position of each value in ``classes``; -1 for a value not among them."""
    lookup = {_key(c): i for i, c in enumerate(classes)}
    return np.fromiter((lookup.get(_key(v), -1) for v in values), dtype=np.int64, count=len(values))


def _key(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _fast_index(values: np.ndarray, classes: tuple[Any, ...]) -> np.ndarray:
    """``index_of`` for numeric labels without a Python loop."""
    try:
        known = np.asarray(classes, dtype=np.float64)
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return index_of(values, classes)
    order = np.argsort(known)
    position = np.clip(np.searchsorted(known[order], numbers), 0, len(known) - 1)
    found = known[order][position] == numbers
    return np.where(found, order[position], -1)


def outcomes(
    task: Task,
    predictor: Predictor,
    table: pa.Table,
    label: str,
    threshold: float,
    valset: str,
    answer: Answer | None = None,
) -> tuple[Outcomes, list[EvaluationFinding]]:
    """The model's answers on ``table`` beside the truth in ``label``, with findings for
    rows it raised on, unknown or missing labels, and guardrail changes. ``answer``
    computes the model's raw answers (default: ``predictor.raw`` in this process)."""
    findings: list[EvaluationFinding] = []
    probabilities = task is Task.CLASSIFICATION
    if answer is None:
        block = blocks.block_rows(len(table))  # as in parts: the same answers
        raw = predictor.raw(table, probabilities=probabilities, block=block)
    else:
        raw = answer(predictor, table, probabilities)
    if raw.error is not None:
        failed = int(raw.failed.sum())
        findings.append(
            EvaluationFinding(
                kind="model_error",
                message=(
                    f"Model {predictor.ref} raised on {failed:,} of {len(table):,} rows of "
                    f"{valset} (first: {raw.error}); those rows count as unanswered."
                ),
                valset=valset,
            )
        )
    truth_column = table.column(label)
    known = ~truth_column.is_null().to_numpy(zero_copy_only=False)
    if not known.all():
        findings.append(
            EvaluationFinding(
                kind="missing_labels",
                message=(
                    f"{int((~known).sum()):,} rows of {valset} have no {label!r}; "
                    "they are left out."
                ),
                valset=valset,
            )
        )
    truth_values = truth_column.to_numpy(zero_copy_only=False)
    if raw.failed.all():
        empty = np.zeros(len(table), dtype=bool)
        zeros = np.zeros(len(table))
        return Outcomes(task, zeros, zeros, empty, None, raw.classes or (0, 1)), findings
    answers = answers_of(raw, threshold) if task is Task.CLASSIFICATION else _values(raw)
    before = answers.predicted.copy()
    if predictor.guardrails is not None:
        hits = rails.apply(predictor.guardrails, table, answers)
        for rule, count in hits.items():
            findings.append(
                EvaluationFinding(
                    kind="guardrail",
                    message=(
                        f"Guardrail {rule!r} changed {count:,} of {len(table):,} answers "
                        f"on {valset}."
                    ),
                    valset=valset,
                )
            )
    answered = answers.answered & known
    if task is Task.REGRESSION:
        truth = np.where(known, _numbers(truth_values, label, valset), 0.0)
        predicted = np.asarray(answers.predicted, dtype=np.float64)
        answered &= np.isfinite(predicted)
        return Outcomes(task, truth, np.where(answered, predicted, 0.0), answered), findings
    classes = raw.classes or _ordered({*_plain(truth_values[known]), *_plain(before)})
    truth = _fast_index(truth_values, classes)
    unknown = int((known & (truth < 0)).sum())
    if unknown:
        findings.append(
            EvaluationFinding(
                kind="unknown_labels",
                message=f"{unknown:,} rows of {valset} have a {label!r} the model never predicts "
                f"(its classes: {', '.join(map(str, classes))}); they count as wrong.",
                valset=valset,
            )
        )
    predicted = _fast_index(answers.predicted, classes)
    score = _score(raw, predicted, answers.predicted != before)
    return Outcomes(task, truth, predicted, answered, score, tuple(classes)), findings


def _ordered(values: set[Any]) -> tuple[Any, ...]:
    """Labels in the order scikit-learn gives them: numbers by value, else as text."""
    try:
        return tuple(sorted(values))
    except TypeError:
        return tuple(sorted(values, key=str))


def _plain(values: np.ndarray) -> list[Any]:
    return [_key(v) for v in values.tolist()] if len(values) < 10_000_000 else []


def _numbers(values: np.ndarray, label: str, valset: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"Label column {label!r} of {valset} holds {type(values[0]).__name__} values; a "
            "regression suite needs numbers. Fix the labels, or use task: classification."
        ) from None


def _values(raw: Any) -> rails.Answers:
    outputs = np.asarray(raw.labels)
    if outputs.ndim > 1 and outputs.shape[1] != 1:
        raise InvalidInputError(
            f"The model's predict returned {outputs.shape[1]} values per row; a regression "
            "suite scores one. Wrap the model to return the predicted value."
        )
    try:
        predicted = outputs.astype(np.float64).reshape(len(raw.failed))
    except (TypeError, ValueError):
        raise InvalidInputError(
            "The model's predict returned values that are not numbers; a regression suite "
            "needs numbers (use task: classification for labels)."
        ) from None
    return rails.Answers(predicted, None, ~raw.failed)


def _score(raw: Any, predicted: np.ndarray, overridden: np.ndarray) -> np.ndarray | None:
    """Probabilities, with rows whose answer a guardrail replaced made certain of it."""
    if raw.probabilities is None:
        return None
    proba = np.asarray(raw.probabilities, dtype=np.float64)
    if overridden.any():
        proba = proba.copy()
        proba[overridden] = 0.0
        proba[overridden, np.clip(predicted[overridden], 0, proba.shape[1] - 1)] = 1.0
    return proba[:, 1] if proba.shape[1] == 2 else proba
