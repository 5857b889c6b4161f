"""One part of a batch scoring, in whatever process runs it: its rows read from the
input's verified Parquet blob (only the row groups that hold them), answered through
the model version's Predictor, returned as output rows in the same order.

A part gets plain data (:class:`Job`): the settings, the model version and its
guardrails, and the blob. The model is read through a client built from those
settings, once per process, so a worker scoring several parts reads it once."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.client import Client
from prodml.data.sketches import profile_column
from prodml.data.stored_tables import read_rows
from prodml.domain.artifact import ModelVersion
from prodml.errors import InvalidInputError
from prodml.predict import blocks
from prodml.predict import guardrails as rails
from prodml.predict.predictor import Predictor, Raw, answers_of
from prodml.settings import Settings
from prodml.track import model as models

PREDICTION = "prediction"
PROBA = "proba_"


@dataclasses.dataclass(frozen=True)
class Job:
    """What a part needs, in any process: settings (not a client), the model version
    and the guardrails it is scored with, and the input's Parquet blob."""

    settings: Settings
    model: ModelVersion
    guardrails: rails.Guardrails | None
    blob: str
    block: int = blocks.PIECE  # rows a model call takes (see :func:`blocks.block_rows`)


@dataclasses.dataclass(frozen=True)
class Part:
    """A part's rows of the output (the input's columns, then the added ones), and
    what went wrong on them."""

    rows: pa.Table
    failed: int
    abstained: int
    error: str | None
    profiles: dict[str, dict[str, object]] = dataclasses.field(default_factory=dict)


def score_part(job: Job, rows: tuple[int, int]) -> Part:
    """Rows ``[start, stop)`` of the input with their answers: ``prediction`` (null
    where the model raised or a guardrail abstained) and, for a classifier,
    ``proba_<class>`` per class. The rows are read here, from the verified blob."""
    predictor = predictor_of(job)
    table = read_rows(_client(job.settings), job.blob, *rows)
    labels, proba = _raw(predictor, table, job.block)
    labels, proba = _filled(labels, proba, table.num_rows)
    answers = answers_of(labels, 0.5)
    if job.guardrails is not None:
        if proba is not None and any(r.confidence_below is not None for r in job.guardrails.rules):
            answers.confidence = _confidence(proba.probabilities, proba.classes, answers.predicted)
        rails.apply(job.guardrails, table, answers)
    arrays = [_masked(answers.predicted, ~answers.answered)]
    names = [PREDICTION]
    if proba is not None and proba.probabilities is not None:
        values = np.asarray(proba.probabilities, dtype=np.float64)
        names += proba_names(proba.classes or tuple(range(values.shape[1])))
        arrays += [_masked(values[:, i], proba.failed) for i in range(values.shape[1])]
    for name, values in zip(names, arrays, strict=True):
        table = table.append_column(name, values)
    abstained = int((~labels.failed & ~answers.answered).sum())
    # The added columns' sketches are made here, beside the rows, and merged by the caller:
    # on Ray each part's worker makes its own instead of the caller making all of them.
    profiles = {name: profile_column(name, table.column(name)).to_dict() for name in names}
    return Part(table, int(labels.failed.sum()), abstained, labels.error, profiles)


def _raw(predictor: Predictor, table: pa.Table, block: int) -> tuple[Raw, Raw | None]:
    """``predict`` and, for a classifier, ``predict_proba`` on one model input, as
    ``Predictor.raw`` makes it (the signature's columns, conformed)."""
    frame = predictor.model_input(predictor.features(table))
    model, count = predictor.model, table.num_rows
    classes = tuple(getattr(model, "classes_", ()))
    with blocks.one_blas_thread():
        outputs, failed, error = _answers(predictor, model.predict, frame, count, 1, block)
        labels = Raw(outputs, None, classes, failed, error)
        if not callable(getattr(model, "predict_proba", None)):
            return labels, None
        outputs, failed, error = _answers(predictor, model.predict_proba, frame, count, 2, block)
    return labels, Raw(None, outputs, classes, failed, error)


def _answers(
    predictor: Predictor, call: Any, frame: Any, rows: int, dimensions: int, block: int
) -> tuple[np.ndarray, np.ndarray, str | None]:
    try:
        outputs, failed, error = blocks.blocked(call, frame, rows, block)
    except blocks.WrongShape as wrong:
        outputs, failed, error, rows = np.empty(wrong.shape), np.zeros(1, bool), None, wrong.rows
    _check_shape(predictor, outputs, failed, rows, dimensions)
    return outputs, failed, error


def _filled(labels: Raw, proba: Raw | None, rows: int) -> tuple[Raw, Raw | None]:
    """Answers where every row raised, as null answers of one per row (probabilities
    one per class), so such a part has the columns and rows of any other."""
    if labels.failed.all():
        labels = dataclasses.replace(labels, labels=np.full(rows, None, dtype=object))
    if proba is not None and proba.failed.all():
        width = len(proba.classes)
        filled = np.full((rows, width), np.nan) if width else None
        proba = dataclasses.replace(proba, probabilities=filled)
    return labels, proba


def _check_shape(
    predictor: Predictor, outputs: np.ndarray, failed: np.ndarray, rows: int, dimensions: int
) -> None:
    if failed.all() or (len(outputs) == rows and outputs.ndim == dimensions):
        return
    method = "predict" if dimensions == 1 else "predict_proba"
    raise InvalidInputError(
        f"Model {predictor.ref}'s {method} returned shape {outputs.shape} for {rows:,} rows; "
        "expected one answer per input row."
    )


def proba_names(classes: Sequence[object]) -> list[str]:
    """``proba_<class>``: letters, digits and ``_`` kept, any other run made one ``_``;
    a name taken by an earlier class gets ``_2``, ``_3``, ..."""
    names: list[str] = []
    for value in classes:
        base = PROBA + re.sub(r"[^A-Za-z0-9_]+", "_", str(value))
        name, count = base, 1
        while name in names:
            count += 1
            name = f"{base}_{count}"
        names.append(name)
    return names


def _masked(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    if len(values) == 0 or not missing.any():
        return pa.array(values)
    return pa.array(values, mask=missing)


def _confidence(
    proba: np.ndarray | None, classes: tuple[object, ...], predicted: np.ndarray
) -> np.ndarray:
    """The probability the model gives each answer it made (NaN for an unknown one)."""
    assert proba is not None
    values = np.asarray(proba, dtype=np.float64)
    lookup = {value: i for i, value in enumerate(classes or range(values.shape[1]))}
    index = np.array([lookup.get(value, -1) for value in predicted.tolist()], dtype=np.int64)
    chosen = values[np.arange(len(index)), np.clip(index, 0, values.shape[1] - 1)]
    return np.where(index >= 0, chosen, np.nan)


_loaded: dict[tuple[Settings, str, int], Predictor] = {}  # the last model this process loaded


def _key(job: Job) -> tuple[Settings, str, int]:
    return job.settings, job.model.id, job.guardrails.version if job.guardrails else 0


@functools.lru_cache(maxsize=1)
def _client(settings: Settings) -> Client:
    return Client(**dataclasses.asdict(settings))


def predictor_of(job: Job) -> Predictor:
    """The job's model, read once per process through a client of the job's settings."""
    found = _loaded.get(_key(job))
    if found is None:
        client = _client(job.settings)
        model = models.deserialise(
            client.read_blob(job.model.digest),
            job.model.ref,
            job.model.environment,
            job.settings.allow_pickle,
        )
        found = Predictor(job.model, model, job.guardrails)
        _loaded.clear()
        _loaded[_key(job)] = found
    return found


def remember(job: Job, predictor: Predictor) -> None:
    """Parts of ``job`` run in this process use ``predictor``, already loaded."""
    _loaded.clear()
    _loaded[_key(job)] = predictor
