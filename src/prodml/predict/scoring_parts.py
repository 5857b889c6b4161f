"""One part of a batch scoring, in whatever process runs it: its rows read from the
input's verified Parquet blob (only the row groups that hold them), answered through
the model version's Predictor, returned as output rows in the same order.

A part gets plain data (:class:`Job`): the settings, the model version and its
guardrails, and the blob. The model is read through a client built from those
settings, once per process, so a worker scoring several parts reads it once."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.client import Client
from prodml.data.sketches import profile_column
from prodml.data.stored_tables import read_rows
from prodml.domain.artifact import ModelVersion
from prodml.errors import InvalidInputError
from prodml.predict import guardrails as rails
from prodml.predict.predictor import Predictor, Raw, answers_of
from prodml.settings import Settings
from prodml.track import model as models

PREDICTION = "prediction"
PROBA = "proba_"
# The model is called on blocks of rows counted from the table's first, each block within
# one part (the last may be short): a row's answer then depends on its block alone, not on
# how the table was cut into parts (a BLAS's kernels round a row's sums by where it sits
# in the call). Blocks grow with the table, so a large one pays few calls.
PIECE = 1024  # the smallest block; a block the model raises on is retried piece by piece
BLOCKS = 64  # a table is cut into about this many blocks, from one piece ...
LARGEST_BLOCK = 65_536  # ... up to this many rows
BLOCK_CALLS = 512  # calls spent isolating the rows a piece's model raises on
GIVE_UP_DEPTH = 6  # halvings after which a piece whose every part raised is all failed


@dataclasses.dataclass(frozen=True)
class Job:
    """What a part needs, in any process: settings (not a client), the model version
    and the guardrails it is scored with, and the input's Parquet blob."""

    settings: Settings
    model: ModelVersion
    guardrails: rails.Guardrails | None
    blob: str
    block: int = PIECE  # rows a model call takes (see :func:`block_rows`)


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
    with _one_blas_thread():
        outputs, failed, error = _answers(predictor, model.predict, frame, count, 1, block)
        labels = Raw(outputs, None, classes, failed, error)
        if not callable(getattr(model, "predict_proba", None)):
            return labels, None
        outputs, failed, error = _answers(predictor, model.predict_proba, frame, count, 2, block)
    return labels, Raw(None, outputs, classes, failed, error)


class _WrongShape(Exception):
    def __init__(self, shape: tuple[int, ...], rows: int) -> None:
        self.shape, self.rows = shape, rows


def _answers(
    predictor: Predictor, call: Any, frame: Any, rows: int, dimensions: int, block: int
) -> tuple[np.ndarray, np.ndarray, str | None]:
    try:
        outputs, failed, error = blocked(call, frame, rows, block)
    except _WrongShape as wrong:
        outputs, failed, error, rows = np.empty(wrong.shape), np.zeros(1, bool), None, wrong.rows
    _check_shape(predictor, outputs, failed, rows, dimensions)
    return outputs, failed, error


def block_rows(rows: int) -> int:
    """The rows of a model call for a table of ``rows``: a power of two near a
    ``BLOCKS``-th of it, from ``PIECE`` to ``LARGEST_BLOCK``."""
    size = PIECE
    while size < LARGEST_BLOCK and size * 2 * BLOCKS <= rows:
        size *= 2
    return size


def aligned(ranges: list[tuple[int, int]], block: int) -> list[tuple[int, int]]:
    """The runs of rows with their bounds moved to the nearest multiple of ``block``
    (runs left empty dropped), so that every block is scored within one part."""
    rows = ranges[-1][1] if ranges else 0
    cuts = {min(rows, round(stop / block) * block) for _, stop in ranges[:-1]}
    bounds = [0, *sorted(cut for cut in cuts if 0 < cut < rows), rows]
    return list(itertools.pairwise(bounds))


def blocked(
    call: Any, frame: Any, rows: int, block: int = PIECE
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The model's outputs over all rows, called on each run of ``block`` rows from the
    part's first; a block it raises on is answered piece by piece (``PIECE`` rows), and
    the rows a piece raises on are isolated within it."""
    return _joined(
        [_block(call, frame, start, min(start + block, rows)) for start in range(0, rows, block)]
    )


def _block(
    call: Any, frame: Any, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray, str | None]:
    if stop - start > PIECE:
        try:
            values = np.asarray(call(_rows(frame, start, stop)))
        except Exception:
            pieces = range(start, stop, PIECE)
            return _joined(
                [
                    _isolated(call, _rows(frame, s, min(s + PIECE, stop)), min(PIECE, stop - s))
                    for s in pieces
                ]
            )
        if values.ndim == 0 or len(values) != stop - start:
            raise _WrongShape(values.shape, stop - start)
        return values, np.zeros(stop - start, dtype=bool), None
    return _isolated(call, _rows(frame, start, stop), stop - start)


def _joined(
    pieces: list[tuple[np.ndarray, np.ndarray, str | None]],
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Consecutive pieces' outputs as one (NaN, or zero, where a whole piece failed)."""
    rows = sum(len(bad) for _, bad, _ in pieces)
    failed = np.concatenate([bad for _, bad, _ in pieces]) if pieces else np.zeros(0, bool)
    error = next((error for _, _, error in pieces if error is not None), None)
    answered = [values for values, bad, _ in pieces if not bad.all()]
    if not answered:
        return np.empty(0), np.ones(rows, dtype=bool), error
    if len(pieces) == 1:
        return pieces[0]
    sample = answered[0]
    outputs = np.zeros((rows, *sample.shape[1:]), dtype=sample.dtype)
    if outputs.dtype.kind == "f":
        outputs[:] = np.nan
    offset = 0
    for values, bad, _ in pieces:
        if not bad.all():
            outputs[offset : offset + len(bad)] = values
        offset += len(bad)
    return outputs, failed, error


def _isolated(call: Any, frame: Any, rows: int) -> tuple[np.ndarray, np.ndarray, str | None]:
    """One block's outputs: one call, and where it raises, halves level by level until
    the rows it raises on are found (at most ``BLOCK_CALLS`` calls; a block whose every
    piece raised for ``GIVE_UP_DEPTH`` levels is failed whole)."""
    failed = np.zeros(rows, dtype=bool)
    results: dict[int, np.ndarray] = {}
    first: str | None = None
    level, depth, calls = [(0, rows)], 0, 0
    while level:
        below: list[tuple[int, int]] = []
        for start, stop in level:
            if calls >= BLOCK_CALLS:
                failed[start:stop] = True
                continue
            calls += 1
            try:
                values = np.asarray(call(_rows(frame, start, stop)))
            except Exception as error:
                first = first or f"{type(error).__name__}: {error}"
                if stop - start == 1:
                    failed[start] = True
                else:
                    middle = (start + stop) // 2
                    below += [(start, middle), (middle, stop)]
                continue
            if values.ndim == 0 or len(values) != stop - start:
                raise _WrongShape(values.shape, stop - start)
            results[start] = values
        depth += 1
        if not results and depth >= GIVE_UP_DEPTH:
            for start, stop in below:
                failed[start:stop] = True
            break
        level = below
    if not results:
        return np.empty(0), failed, first
    sample = next(iter(results.values()))
    outputs = np.zeros((rows, *sample.shape[1:]), dtype=sample.dtype)
    for start, values in results.items():
        outputs[start : start + len(values)] = values
    return outputs, failed, first


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Linear algebra on one thread while the model answers: how many threads a BLAS
    splits a product over changes the last bits of its sums, and a Ray worker has one."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # no scikit-learn, which brings it: nothing to limit
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


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


def _rows(frame: Any, start: int, stop: int) -> Any:
    return frame.iloc[start:stop] if hasattr(frame, "iloc") else frame[start:stop]


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
