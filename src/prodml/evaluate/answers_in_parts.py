"""A model's raw answers on a large validation set, computed in parts on an executor
(this process, or Ray tasks) and joined in row order: what ``Predictor.raw`` gives on
the whole table, so every metric, slice and interval computed from them is the same.

The model call is what costs on a large set; the per-bucket sums after it are cheap and
stay in this process. A part gets its rows and plain data (the settings, the model
version), and loads the model once per worker process."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pyarrow as pa

from prodml.client import Client
from prodml.data.executors import Executor, map_partitions, row_ranges
from prodml.domain.artifact import ModelVersion
from prodml.predict import blocks
from prodml.predict.predictor import Predictor, Raw
from prodml.predict.scoring_parts import Job, predictor_of, remember
from prodml.settings import Settings


@dataclasses.dataclass(frozen=True)
class AnswerJob:
    settings: Settings
    model: ModelVersion
    probabilities: bool
    block: int  # rows a model call takes, from the whole table's rows


class PartedAnswers:
    """``answer(predictor, table, probabilities)`` for the evaluation engine: the table
    cut in ``partitions`` parts (default: as many as the executor runs at once)."""

    def __init__(self, client: Client, executor: Executor, partitions: int | None = None) -> None:
        self.settings, self.executor, self.partitions = client.settings, executor, partitions

    def __call__(self, predictor: Predictor, table: pa.Table, probabilities: bool) -> Raw:
        block = blocks.block_rows(table.num_rows)
        job = AnswerJob(self.settings, predictor.version, probabilities, block)
        if self.executor.name == "local":  # this process: the predictor already loaded
            remember(_scoring(job), predictor)
        wanted = self.partitions or self.executor.workers
        ranges = blocks.aligned(row_ranges(table.num_rows, wanted), block)
        slices = [table.slice(start, stop - start) for start, stop in ranges]
        raws = map_partitions(functools.partial(answer_part, job), slices, self.executor)
        return joined(raws, [stop - start for start, stop in ranges])


def answer_part(job: AnswerJob, rows: pa.Table) -> Raw:
    """The model's raw answers on one part's rows, in whatever process runs it."""
    return predictor_of(_scoring(job)).raw(rows, job.probabilities, job.block)


def _scoring(job: AnswerJob) -> Job:
    return Job(job.settings, job.model, None, "")


def joined(raws: list[Raw], sizes: list[int]) -> Raw:
    """The parts' answers as one, in order: a part whose every row raised gets outputs
    of the others' shape (its rows stay failed)."""
    failed = np.concatenate([raw.failed for raw in raws]) if raws else np.zeros(0, dtype=bool)
    error = next((raw.error for raw in raws if raw.error is not None), None)
    classes = next((raw.classes for raw in raws if raw.classes), ())
    kind = "probabilities" if any(raw.probabilities is not None for raw in raws) else "labels"
    arrays = [getattr(raw, kind) for raw in raws]
    sample = next((a for a, raw in zip(arrays, raws, strict=True) if not raw.failed.all()), None)
    if sample is None:  # every row raised
        return Raw(None, None, classes, failed, error)
    filled = [
        array if not raw.failed.all() else _empty_like(sample, size)
        for array, raw, size in zip(arrays, raws, sizes, strict=True)
    ]
    outputs = np.concatenate(filled)
    if kind == "probabilities":
        return Raw(None, outputs, classes, failed, error)
    return Raw(outputs, None, classes, failed, error)


def _empty_like(sample: np.ndarray, rows: int) -> np.ndarray:
    outputs = np.zeros((rows, *sample.shape[1:]), dtype=sample.dtype)
    if outputs.dtype.kind == "f":
        outputs[:] = np.nan
    return outputs
