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
from prodml.domain.ids import split_ref
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


def start_run(
    experiment: str,
    config: Mapping[str, Any] | None = None,
    hypothesis: str | None = None,
    inputs: Iterable[DatasetVersion | str] = (),
    client: Client | None = None,
) -> ActiveRun:
    """Start a run; use it as a context manager so it ends (or fails) on its own."""
    return _start_run(client or default_client(), experiment, config, hypothesis, inputs)


def log_dataset(
    name: str,
    data: Any,
    key: str | list[str] | None = None,
    progress: Progress | None = None,
    client: Client | None = None,
) -> DatasetVersion:
    """Version a table (pandas, polars, Arrow, Parquet, CSV) or a file or folder."""
    from prodml.data import datasets

    return datasets.log_dataset(client or default_client(), name, data, key, progress)


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


def get_model(ref: str, client: Client | None = None) -> ModelVersion:
    name, version = split_ref(ref)
    return (client or default_client()).metadata.get_model_version(name, version)


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
