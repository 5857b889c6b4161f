"""A model version ready to predict: its signature enforced on the way in and its
guardrails applied on the way out, the same in evaluation and in serving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.domain.artifact import ModelVersion
from prodml.errors import InvalidInputError
from prodml.predict import blocks
from prodml.predict import guardrails as rails
from prodml.predict.signature import conform

MAX_CALLS = 4096  # calls spent isolating the rows a model raises on


@dataclass(frozen=True)
class Raw:
    """What the model returned for rows, before guardrails; ``failed`` rows raised."""

    labels: np.ndarray | None  # predict() output, or None when probabilities were used
    probabilities: np.ndarray | None  # (n, classes)
    classes: tuple[Any, ...]
    failed: np.ndarray
    error: str | None


class Predictor:
    def __init__(
        self, version: ModelVersion, model: Any, guardrails: rails.Guardrails | None = None
    ) -> None:
        self.version = version
        self.model = model
        self.guardrails = guardrails

    @property
    def ref(self) -> str:
        return self.version.ref

    def __getattr__(self, name: str) -> Any:  # the underlying model's own attributes
        return getattr(self.__dict__["model"], name)

    def features(self, table: pa.Table) -> pa.Table:
        return conform(table, self.version.signature, self.ref)

    def model_input(self, table: pa.Table) -> Any:
        """Columns as the model was fitted on them: a DataFrame when it knows feature
        names (or is not scikit-learn), else a 2-D array. A model loaded from a native
        format (ONNX, a booster's) takes the array whenever every column is a number."""
        if getattr(self.model, "takes_array", False) and _numeric(table):
            return np.column_stack([c.to_numpy(zero_copy_only=False) for c in table.columns])
        if not hasattr(self.model, "feature_names_in_") and self.version.flavor == "sklearn":
            return np.column_stack([c.to_numpy(zero_copy_only=False) for c in table.columns])
        return table.to_pandas()

    def raw(self, table: pa.Table, probabilities: bool = True, block: int | None = None) -> Raw:
        """Call the model on every row; rows it raises on are found by halving. With
        ``block``, on blocks of that many rows and one BLAS thread (see
        :mod:`prodml.predict.blocks`): the answers of a large table cut into parts."""
        frame = self.model_input(self.features(table))
        proba = probabilities and callable(getattr(self.model, "predict_proba", None))
        call = self.model.predict_proba if proba else self.model.predict
        if block is None:
            outputs, failed, error = robust(call, frame, len(table))
        else:
            try:
                with blocks.one_blas_thread():
                    outputs, failed, error = blocks.blocked(call, frame, len(table), block)
            except blocks.WrongShape as wrong:
                method = "predict_proba" if proba else "predict"
                self._check_shape(np.empty(wrong.shape), wrong.rows, method)
                raise
        if not failed.all():
            self._check_shape(outputs, len(table), "predict_proba" if proba else "predict")
        classes = tuple(getattr(self.model, "classes_", ()))
        return Raw(None if proba else outputs, outputs if proba else None, classes, failed, error)

    def _check_shape(self, outputs: np.ndarray, rows: int, method: str) -> None:
        wrong = len(outputs) != rows or (method == "predict_proba" and outputs.ndim != 2)
        if wrong:
            raise InvalidInputError(
                f"Model {self.ref}'s {method} returned shape {outputs.shape} for {rows:,} rows; "
                + (
                    "expected one row of class probabilities per input row."
                    if method == "predict_proba"
                    else "expected one answer per input row."
                )
            )

    def predict(self, rows: Any) -> list[Any]:
        """Answers for ``rows`` (a table, DataFrame or list of dicts) after the guardrails;
        an abstained answer is None."""
        from prodml.data.tables import to_arrow

        table = pa.Table.from_pylist(rows) if isinstance(rows, list) else to_arrow(rows, "input")
        raw = self.raw(table, probabilities=False)  # the model's own answers, as without rules
        if raw.error is not None:
            raise InvalidInputError(f"Model {self.ref} raised on the input: {raw.error}")
        answers = answers_of(raw, 0.5)
        if self.guardrails is not None:
            if any(rule.confidence_below is not None for rule in self.guardrails.rules):
                answers.confidence = self._confidence(table, answers.predicted)
            rails.apply(self.guardrails, table, answers)
        return [
            v if ok else None
            for v, ok in zip(answers.predicted.tolist(), answers.answered, strict=True)
        ]

    def _confidence(self, table: pa.Table, predicted: np.ndarray) -> np.ndarray | None:
        """The probability the model gives each answer it made (None without predict_proba)."""
        if not callable(getattr(self.model, "predict_proba", None)):
            return None
        raw = self.raw(table, probabilities=True)
        assert raw.probabilities is not None
        proba = np.asarray(raw.probabilities, dtype=np.float64)
        classes = list(raw.classes) or list(range(proba.shape[1]))
        lookup = {value: i for i, value in enumerate(classes)}
        index = np.array([lookup.get(value, -1) for value in predicted.tolist()])
        chosen = proba[np.arange(len(index)), np.clip(index, 0, proba.shape[1] - 1)]
        return np.where(index >= 0, chosen, np.nan)


def _numeric(table: pa.Table) -> bool:
    kinds = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    return table.num_columns > 0 and all(
        any(kind(field.type) for kind in kinds) for field in table.schema
    )


def answers_of(raw: Raw, threshold: float) -> rails.Answers:
    answered = ~raw.failed
    if raw.probabilities is None:
        assert raw.labels is not None
        return rails.Answers(np.asarray(raw.labels), None, answered)
    proba = np.asarray(raw.probabilities, dtype=np.float64)
    classes = np.asarray(raw.classes) if raw.classes else np.arange(proba.shape[1])
    if proba.shape[1] == 2:
        index = (proba[:, 1] >= threshold).astype(np.int64)
    else:
        index = np.argmax(proba, axis=1)
    confidence = proba[np.arange(len(index)), index]
    return rails.Answers(classes[index], np.where(answered, confidence, np.nan), answered)


def robust(call: Any, frame: Any, rows: int) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The model's outputs over all rows; where it raises, halve until the failing rows
    are found (at most MAX_CALLS calls; past that the rest of a failing part is failed)."""
    failed = np.zeros(rows, dtype=bool)
    try:
        return np.asarray(call(frame)), failed, None
    except Exception as error:
        first = f"{type(error).__name__}: {error}"
    parts: list[tuple[int, int]] = [(0, rows // 2), (rows // 2, rows)]
    results: dict[int, np.ndarray] = {}
    calls = 0
    while parts:
        start, stop = parts.pop()
        if start >= stop:
            continue
        calls += 1
        try:
            if calls > MAX_CALLS:
                raise RuntimeError("too many failing rows to isolate")
            results[start] = np.asarray(call(_rows(frame, start, stop)))
        except Exception:
            if stop - start == 1 or calls > MAX_CALLS:
                failed[start:stop] = True
            else:
                middle = (start + stop) // 2
                parts += [(start, middle), (middle, stop)]
    if not results:
        return np.empty(0), np.ones(rows, dtype=bool), first
    sample = next(iter(results.values()))
    outputs = np.zeros(
        (rows, *sample.shape[1:]), dtype=sample.dtype if sample.dtype != object else object
    )
    if outputs.dtype.kind == "f":
        outputs[:] = np.nan
    for start, values in results.items():
        outputs[start : start + len(values)] = values
    return outputs, failed, first


def _rows(frame: Any, start: int, stop: int) -> Any:
    return frame.iloc[start:stop] if hasattr(frame, "iloc") else frame[start:stop]
