"""Batch scoring: a stored table version through a model version's Predictor (its
signature enforced, its guardrails applied, answers as ``Predictor.predict`` and the
gateway give them), part by part on an executor, logged as a new dataset version with
lineage edges from the model version (``scored``) and the input version (``input``).

A part is scored from plain data: the settings, the model version and its guardrails
travel to wherever the part runs, and the model is read there through a client built
from those settings (processes on the machine of the store share it). Each part's
answers are in its rows' order and the parts are joined in order, so the output is
the same on any executor and with any number of parts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

from prodml.client import Client
from prodml.data.datasets import log_dataset
from prodml.data.executors import Executor, Progress, map_partitions, row_ranges
from prodml.data.refs import get_dataset
from prodml.data.stored_tables import load_table
from prodml.domain.artifact import ModelVersion
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.domain.scoring import ScoredDataset
from prodml.errors import InvalidInputError
from prodml.names import check_name
from prodml.predict import guardrails as rails
from prodml.predict import loading
from prodml.predict.predictor import Predictor, answers_of
from prodml.predict.signature import columns as signature_columns
from prodml.settings import Settings
from prodml.track import model as models

PREDICTION = "prediction"
PROBA = "proba_"


@dataclasses.dataclass(frozen=True)
class Job:
    """What a part needs, in any process: settings (not a client), the model version
    and the guardrails it is scored with."""

    settings: Settings
    model: ModelVersion
    guardrails: rails.Guardrails | None


@dataclasses.dataclass(frozen=True)
class Part:
    """The columns scoring adds to a part's rows, and what went wrong on them."""

    columns: pa.Table
    failed: int
    abstained: int
    error: str | None


def output_name(dataset: str, model: str) -> str:
    """The default name of the output: ``<dataset>-scored-<model>``."""
    return f"{dataset}-scored-{model}"


def score(
    client: Client,
    model_ref: str,
    dataset_ref: str,
    name: str | None = None,
    executor: Executor | None = None,
    partitions: int | None = None,
    progress: Progress | None = None,
) -> ScoredDataset:
    """Score every row of a table version and log the result; nothing is stored when
    the model, the dataset or a column the model takes is missing."""
    predictor = loading.predictor(client, model_ref)
    version = get_dataset(client, dataset_ref)
    target = check_name(name or output_name(version.name, predictor.version.name), "dataset")
    _check_input(predictor, version)
    _check_collisions(_added_names(predictor), version)
    table = load_table(client, version)
    job = Job(_portable(client.settings), predictor.version, predictor.guardrails)
    _loaded.clear()
    _loaded[_key(job)] = predictor  # parts run in this process reuse it
    ranges = row_ranges(table.num_rows, partitions or (executor.workers if executor else 1))
    parts = [table.slice(start, stop - start) for start, stop in ranges]
    results = map_partitions(partial(score_part, job), parts, executor, progress)
    added = pa.concat_tables([r.columns for r in results], promote_options="default")
    _check_collisions(added.column_names, version)
    output = table
    for field, values in zip(added.schema, added.columns, strict=True):
        output = output.append_column(field, values)
    sources = [(("model", predictor.version.id), "scored"), (("dataset", version.id), "input")]
    stored = log_dataset(client, target, output, list(version.key), sources=sources)
    errors = [r.error for r in results if r.error is not None]
    return ScoredDataset(
        output=stored,
        input=version,
        model=predictor.ref,
        model_id=predictor.version.id,
        rows=table.num_rows,
        added=tuple(added.column_names),
        failed=sum(r.failed for r in results),
        abstained=sum(r.abstained for r in results),
        first_error=errors[0] if errors else None,
        executor=executor.name if executor else "local",
        partitions=len(parts),
    )


def score_part(job: Job, rows: pa.Table) -> Part:
    """The answers for ``rows``: ``prediction`` (null where the model raised or a
    guardrail abstained) and, for a classifier, ``proba_<class>`` per class."""
    predictor = _predictor(job)
    raw = predictor.raw(rows, probabilities=False)
    answers = answers_of(raw, 0.5)
    model = predictor.model
    proba = None
    if callable(getattr(model, "predict_proba", None)):
        proba = predictor.raw(rows, probabilities=True)
    if job.guardrails is not None:
        if proba is not None and any(r.confidence_below is not None for r in job.guardrails.rules):
            answers.confidence = _confidence(proba.probabilities, proba.classes, answers.predicted)
        rails.apply(job.guardrails, rows, answers)
    arrays = [_masked(answers.predicted, ~answers.answered)]
    names = [PREDICTION]
    if proba is not None and proba.probabilities is not None and proba.probabilities.ndim == 2:
        values = np.asarray(proba.probabilities, dtype=np.float64)
        classes = proba.classes or tuple(range(values.shape[1]))
        names += proba_names(classes)
        arrays += [_masked(values[:, i], proba.failed) for i in range(values.shape[1])]
    abstained = int((~raw.failed & ~answers.answered).sum())
    return Part(pa.table(arrays, names=names), int(raw.failed.sum()), abstained, raw.error)


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


def _check_input(predictor: Predictor, version: DatasetVersion) -> None:
    if version.kind is not DatasetKind.TABLE:
        raise InvalidInputError(
            f"Dataset {version.ref} is a set of files, not a table; only tables are scored. "
            "Log the rows as a table: prodml datasets log NAME FILE.parquet"
        )
    if not version.num_rows:
        raise InvalidInputError(f"Dataset {version.ref} has no rows; there is nothing to score.")
    wanted = signature_columns(predictor.version.signature) or []
    missing = [column for column in wanted if column not in version.schema]
    if missing:
        raise InvalidInputError(
            f"Dataset {version.ref} lacks column(s) {', '.join(map(repr, missing))} that "
            f"model {predictor.ref} takes (its signature: {', '.join(wanted)}). Score a "
            "version that has them, or log one with them: prodml datasets log NAME FILE"
        )


def _added_names(predictor: Predictor) -> list[str]:
    """The columns scoring will add, as far as the model says before it predicts."""
    classes = getattr(predictor.model, "classes_", None)
    if classes is None or not callable(getattr(predictor.model, "predict_proba", None)):
        return [PREDICTION]
    return [PREDICTION, *proba_names(list(classes))]


def _check_collisions(added: list[str], version: DatasetVersion) -> None:
    taken = [column for column in added if column in version.schema]
    if taken:
        raise InvalidInputError(
            f"Dataset {version.ref} already has column(s) {', '.join(map(repr, taken))}, which "
            "scoring adds. Score a version without them (drop or rename them and log it "
            "again), e.g. the input the scored version came from."
        )


def _portable(settings: Settings) -> Settings:
    """The settings with the home and a folder blob store as absolute paths, so a
    process started elsewhere opens the same store."""
    url = settings.artifact_url
    if "://" not in url:
        url = str(Path(url).absolute())
    return dataclasses.replace(settings, home=str(Path(settings.home).absolute()), artifact_url=url)


_loaded: dict[tuple[Settings, str, int], Predictor] = {}  # the last model this process loaded


def _key(job: Job) -> tuple[Settings, str, int]:
    return job.settings, job.model.id, job.guardrails.version if job.guardrails else 0


def _predictor(job: Job) -> Predictor:
    """The job's model, read once per process through a client of the job's settings."""
    found = _loaded.get(_key(job))
    if found is None:
        client = Client(**dataclasses.asdict(job.settings))
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
