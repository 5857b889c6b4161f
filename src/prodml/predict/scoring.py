"""Batch scoring: a stored table version through a model version's Predictor (its
signature enforced, its guardrails applied, answers as ``Predictor.predict`` and the
gateway give them), part by part on an executor, logged as a new dataset version with
lineage edges from the model version (``scored``) and the input version (``input``).

The parts (:mod:`prodml.predict.scoring_parts`) get plain data, read their own rows
and the model where they run (processes on the machine of the store share it); each
part's answers are in its rows' order and the parts are joined in order, so the
output is the same on any executor and with any number of parts."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pyarrow as pa

from prodml.client import Client
from prodml.data.datasets import log_dataset
from prodml.data.executors import Executor, Progress, map_partitions, row_ranges
from prodml.data.refs import get_dataset
from prodml.data.sketches import ColumnProfile, profile_column
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.domain.scoring import ScoredDataset
from prodml.errors import InvalidInputError, NotFoundError
from prodml.names import check_name
from prodml.predict import blocks, loading
from prodml.predict import scoring_parts as parts
from prodml.predict.predictor import Predictor
from prodml.predict.signature import columns as signature_columns
from prodml.settings import Settings


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
    target = check_name(
        output_name(version.name, predictor.version.name) if name is None else name, "dataset"
    )
    if target == version.name:
        raise InvalidInputError(
            f"The output name {target!r} is the input's: the scored rows would become the "
            f"next version of {target}, and {target}@latest a scored table that cannot be "
            f"scored again. Give another name (-o), or leave it out for "
            f"{output_name(version.name, predictor.version.name)!r}."
        )
    _check_input(predictor, version)
    _check_collisions(_added_names(predictor), version)
    blob = client.metadata.dataset_blob(version)
    if blob is None:
        raise NotFoundError(f"Dataset {version.ref} has no stored table.")
    rows = version.num_rows or 0
    block = blocks.block_rows(rows)
    job = parts.Job(
        _portable(client.settings), predictor.version, predictor.guardrails, blob, block
    )
    parts.remember(job, predictor)  # parts run in this process reuse it
    wanted = partitions or (executor.workers if executor else 1)
    ranges = blocks.aligned(row_ranges(rows, wanted), block)
    results = map_partitions(functools.partial(parts.score_part, job), ranges, executor, progress)
    output = pa.concat_tables([r.rows for r in results], promote_options="default")
    added = output.column_names[len(version.schema) :]
    _check_collisions(added, version)
    sources = [(("model", predictor.version.id), "scored"), (("dataset", version.id), "input")]
    stored = log_dataset(
        client, target, output, list(version.key), sources=sources, carried=version,
        profiles=_merged_profiles(results, output),
    )  # fmt: skip
    errors = [r.error for r in results if r.error is not None]
    return ScoredDataset(
        output=stored,
        input=version,
        model=predictor.ref,
        model_id=predictor.version.id,
        rows=output.num_rows,
        added=tuple(added),
        failed=sum(r.failed for r in results),
        abstained=sum(r.abstained for r in results),
        first_error=errors[0] if errors else None,
        executor=executor.name if executor else "local",
        partitions=len(ranges),
    )


def _merged_profiles(results: list[parts.Part], output: pa.Table) -> dict[str, ColumnProfile]:
    """The added columns' profiles, each part's merged in the parts' order; a column
    that a part holds only nulls in (every row raised) is profiled whole here, as the
    output's type."""
    merged: dict[str, ColumnProfile] = {}
    for name in results[0].profiles if results else ():
        if any(_all_null(result.rows.column(name)) for result in results):
            merged[name] = profile_column(name, output.column(name))
            continue
        for result in results:
            made = ColumnProfile.from_dict(result.profiles[name])
            merged[name] = merged[name].merge(made) if name in merged else made
    return merged


def _all_null(column: pa.ChunkedArray) -> bool:
    return bool(column.null_count == len(column))


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
        return [parts.PREDICTION]
    return [parts.PREDICTION, *parts.proba_names(list(classes))]


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
