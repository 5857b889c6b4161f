"""The module-level SDK: each function works on the default client unless given one."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.data.refs import get_dataset as _get_dataset
from prodml.domain.artifact import ModelVersion
from prodml.domain.dataset import DatasetDiff, DatasetVersion
from prodml.domain.lineage import Event, LineageTree
from prodml.domain.run import MetricPoint, Run
from prodml.lineage import graph
from prodml.track import model as models
from prodml.track.compare import RunComparison
from prodml.track.compare import compare_runs as _compare
from prodml.track.run import ActiveRun
from prodml.track.start import start_run as _start_run

if TYPE_CHECKING:  # table libraries load on first use, not with the SDK
    import pyarrow as pa

    from prodml.data.files import Progress
    from prodml.data.profile import TableProfile
    from prodml.domain.validation import ValidationResult


def start_run(
    experiment: str,
    config: Mapping[str, Any] | None = None,
    hypothesis: str | None = None,
    inputs: Iterable[DatasetVersion | str] = (),
    client: Client | None = None,
    force_inputs: str | None = None,
) -> ActiveRun:
    """Start a run; use it as a context manager so it ends (or fails) on its own.

    An input whose latest validation found hard problems is refused unless
    ``force_inputs`` gives the reason, which is recorded."""
    return _start_run(
        client or default_client(), experiment, config, hypothesis, inputs, force_inputs
    )


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

    return datasets.log_dataset(client or default_client(), name, data, key, progress, partition_by)


def get_dataset(ref: str, client: Client | None = None) -> DatasetVersion:
    """``NAME``, ``NAME@3``, ``NAME@latest`` or ``NAME@<digest prefix>``."""
    return _get_dataset(client or default_client(), ref)


def list_datasets(name: str | None = None, client: Client | None = None) -> list[DatasetVersion]:
    return (client or default_client()).metadata.list_dataset_versions(name)


def load_table(ref: str | DatasetVersion, client: Client | None = None) -> pa.Table:
    from prodml.data import datasets

    chosen = client or default_client()
    version = ref if isinstance(ref, DatasetVersion) else _get_dataset(chosen, ref)
    return datasets.load_table(chosen, version)


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


def get_run(run_id: str, client: Client | None = None) -> Run:
    return (client or default_client()).metadata.get_run(run_id)


def list_runs(
    experiment: str | None = None, limit: int | None = None, client: Client | None = None
) -> list[Run]:
    return (client or default_client()).metadata.list_runs(experiment, limit)


def metric_history(run_id: str, key: str, client: Client | None = None) -> list[MetricPoint]:
    chosen = client or default_client()
    return chosen.metadata.metric_history(chosen.metadata.resolve_run(run_id), key)


def get_model(
    ref: str, client: Client | None = None, as_of: datetime | None = None
) -> ModelVersion:
    """``NAME@VERSION``, ``NAME@alias`` (e.g. ``churn@champion``, as of a time if given)
    or ``NAME`` for the latest version."""
    from prodml.deploy.registry import get

    return get(client or default_client(), ref, as_of)


def load_model(ref: str, client: Client | None = None) -> Any:
    """The model object of ``NAME@VERSION`` (latest without a version), verified."""
    chosen = client or default_client()
    version = get_model(ref, chosen)
    return models.deserialise(chosen.read_blob(version.digest), version.ref, version.environment)


def upstream(ref: str, as_of: datetime | None = None, client: Client | None = None) -> LineageTree:
    """What produced ``ref``, recursively: e.g. model <- run <- dataset versions."""
    return graph.tree(client or default_client(), ref, True, as_of)


def downstream(
    ref: str, as_of: datetime | None = None, client: Client | None = None
) -> LineageTree:
    """What ``ref`` fed, recursively: e.g. dataset -> runs -> models and artifacts."""
    return graph.tree(client or default_client(), ref, False, as_of)


def events(
    since: datetime | None = None, until: datetime | None = None, client: Client | None = None
) -> list[Event]:
    return (client or default_client()).metadata.list_events(since=since, until=until)


def compare_runs(left: str, right: str, client: Client | None = None) -> RunComparison:
    """Config, params, inputs, code and metrics of two runs side by side."""
    return _compare(client or default_client(), left, right)


def profile(data: Any, partition_by: str | None = None) -> TableProfile | dict[str, TableProfile]:
    """A mergeable profile of a table (pandas, polars, Arrow, a file), or one per
    value of ``partition_by``: ``merge`` partitions to get the profile of the whole."""
    from prodml.data.profile import profile_partitions, profile_table, read_any

    table, mixed = read_any(data, "the profiled table")
    if partition_by:
        return profile_partitions(table, partition_by)
    return profile_table(table, None, mixed)


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
        document = dict(checks) if isinstance(checks, Mapping) else checks_file.read(Path(checks))
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
