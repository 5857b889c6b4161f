"""Datasets: log, read, diff, check out, profile and validate versions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.data.refs import get_dataset as _get_dataset
from prodml.domain.dataset import DatasetDiff, DatasetVersion, FileEntry
from prodml.sdk.openlineage import follow_settings

if TYPE_CHECKING:  # table libraries load on first use, not with the SDK
    import pyarrow as pa

    from prodml.data.executors import Executor
    from prodml.data.executors import Progress as ExecutorProgress
    from prodml.data.files import Progress
    from prodml.data.profile import TableProfile
    from prodml.domain.distribution import ColumnDistribution, ColumnShift
    from prodml.domain.validation import RecordedValidation, ValidationResult


def log_dataset(
    name: str,
    data: Any,
    key: str | list[str] | None = None,
    progress: Progress | None = None,
    client: Client | None = None,
    partition_by: str | None = None,
) -> DatasetVersion:
    """Version a table (pandas, polars, Arrow, Parquet, CSV) or a file or folder.

    Tables get their profile stored; with ``partition_by`` (e.g. ``"date"``) one per
    partition too, the history ``validate(..., partition_by=...)`` judges against."""
    from prodml.data import datasets

    chosen = client or default_client()
    follow_settings(chosen)
    return datasets.log_dataset(chosen, name, data, key, progress, partition_by)


def get_dataset(ref: str, client: Client | None = None) -> DatasetVersion:
    """``NAME``, ``NAME@3``, ``NAME@latest`` or ``NAME@<digest prefix>``."""
    return _get_dataset(client or default_client(), ref)


def list_datasets(name: str | None = None, client: Client | None = None) -> list[DatasetVersion]:
    return (client or default_client()).metadata.list_dataset_versions(name)


def list_dataset_files(ref: str | DatasetVersion, client: Client | None = None) -> list[FileEntry]:
    """The files of a files-kind dataset version: path, size and digest (none for a table)."""
    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    return chosen.metadata.dataset_files(version.id)


def load_table(ref: str | DatasetVersion, client: Client | None = None) -> pa.Table:
    from prodml.data import stored_tables

    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    return stored_tables.load_table(chosen, version)


def diff_datasets(
    before: str, after: str, key: str | list[str] | None = None, client: Client | None = None
) -> DatasetDiff:
    from prodml.data.diff import diff_versions

    chosen = client or default_client()
    keys = (key,) if isinstance(key, str) else tuple(key or ())
    return diff_versions(chosen, _get_dataset(chosen, before), _get_dataset(chosen, after), keys)


def read_file(ref: str | DatasetVersion, path: str, client: Client | None = None) -> bytes:
    """The verified bytes of one file of a files-kind dataset version."""
    from prodml.data import checkout as checkouts

    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    return checkouts.read_file(chosen, version, path)


def checkout(
    ref: str | DatasetVersion, destination: str | os.PathLike[str], client: Client | None = None
) -> list[Path]:
    """Restore every file of a files-kind dataset version into an empty folder."""
    from prodml.data import checkout as checkouts

    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    return checkouts.checkout(chosen, version, Path(destination))


def profile(data: Any, partition_by: str | None = None) -> TableProfile | dict[str, TableProfile]:
    """A mergeable profile of a table (pandas, polars, Arrow, a file), or one per
    value of ``partition_by``: ``merge`` partitions to get the profile of the whole."""
    from prodml.data.profile import profile_partitions, profile_table, read_any

    table, mixed = read_any(data, "the profiled table")
    if partition_by:
        return profile_partitions(table, partition_by)
    return profile_table(table, None, mixed)


def profile_version(
    ref: str | DatasetVersion,
    executor: str | Executor = "local",
    partitions: int | None = None,
    address: str | None = None,
    progress: ExecutorProgress | None = None,
    client: Client | None = None,
) -> TableProfile:
    """The profile of a stored table version (``"flights@4"``), made in ``partitions``
    parts of its rows and merged: in this process, or with ``executor="ray"`` as Ray
    tasks on a local Ray or the cluster at ``address`` (``auto``, ``ray://HOST:10001``).
    Counts, nulls, extremes and means equal one process's; quantiles and distinct
    counts within their sketches' error, and duplicate rows across parts estimated from
    row-hash samples as any merge of profiles. Stored as the version's profile when it
    has none yet."""
    from prodml.data.partitioned_profiles import profile_in_parts
    from prodml.data.stored_profiles import store_parts_profile
    from prodml.errors import InvalidInputError
    from prodml.sdk.executors import executor_for

    if partitions is not None and partitions < 1:
        raise InvalidInputError(f"partitions must be 1 or more, not {partitions}.")
    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    runner = executor_for(executor, address) if isinstance(executor, str) else executor
    made = profile_in_parts(chosen, version, runner, partitions, progress)
    store_parts_profile(chosen, version, made)
    return made


def validate(
    batch: Any,
    against: Any,
    partition_by: str | None = None,
    checks: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    client: Client | None = None,
) -> ValidationResult:
    """Judge a batch against history: ``against`` is a dataset name (its versions, or
    with ``partition_by`` its latest version's partitions), a version, or profiles.

    ``batch`` is data, a table file, or a logged version (``"flights@4"``), whose
    result is recorded: hard findings then block it as a run input unless forced."""
    from prodml.data import checks as checks_file
    from prodml.data.history import validate as _validate

    document = None
    if checks is not None:
        document = checks_file.load(checks)
    return _validate(client or default_client(), batch, against, partition_by, document)


def infer_checks(
    against: Any,
    partition_by: str | None = None,
    path: str | os.PathLike[str] | None = None,
    client: Client | None = None,
) -> dict[str, Any]:
    """Checks proposed from the history of a dataset (see ``validate``); written as
    YAML to ``path`` when given."""
    from prodml.data import checks as checks_file
    from prodml.data.history import resolve_history

    history = resolve_history(client or default_client(), against, partition_by, None)
    document = checks_file.infer(history.profiles, history.label, history.keys)
    if path is not None:
        checks_file.write(document, Path(path))
    return document


def column_distributions(
    ref: str | DatasetVersion, client: Client | None = None
) -> tuple[ColumnDistribution, ...]:
    """Each column of a table version as its stored profile describes it: counts,
    missing values, a histogram and quantiles, or the most frequent values."""
    from prodml.data.distributions import distributions
    from prodml.data.stored_profiles import profiles_of

    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    return distributions(profiles_of(chosen, version)[0])


def distribution_shift(
    before: str | DatasetVersion, after: str | DatasetVersion, client: Client | None = None
) -> tuple[ColumnShift, ...]:
    """How far each column moved between two table versions (0 = the same, 1 = no
    overlap), the most shifted first, each with its before-and-after shares."""
    from prodml.data.distributions import shifts
    from prodml.data.stored_profiles import profiles_of

    chosen = client or default_client()
    old, new = (
        v if isinstance(v, DatasetVersion) else _get_dataset(chosen, v) for v in (before, after)
    )
    return shifts(profiles_of(chosen, old)[0], profiles_of(chosen, new)[0])


def latest_validation(
    ref: str | DatasetVersion, client: Client | None = None, charts: bool = True
) -> RecordedValidation | None:
    """The newest recorded validation of a version (``validate`` records those of logged
    versions), or None when it was never validated; ``charts`` draws the version against
    the earlier versions of its dataset again (the store keeps only the findings)."""
    from prodml.data.recorded_validations import latest

    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    return latest(chosen, version, charts)


def validation_report(result: ValidationResult, title: str | None = None) -> str:
    """A self-contained HTML page of a validation result, for people to read."""
    from prodml.data.report import render_html

    return render_html(result, title)
