"""The stores, chosen by URL: metadata on SQLite or PostgreSQL, blobs in a folder
or at any fsspec URL."""

from __future__ import annotations

from pathlib import Path

from prodml.stores.blobs import ArtifactStore, LocalArtifactStore
from prodml.stores.protocol import MetadataStore
from prodml.stores.remote_blobs import FsspecArtifactStore
from prodml.stores.sql_alerts import AlertQueries
from prodml.stores.sql_artifacts import ArtifactQueries
from prodml.stores.sql_datasets import DatasetQueries
from prodml.stores.sql_evaluations import EvaluationQueries
from prodml.stores.sql_hosts import HostQueries
from prodml.stores.sql_lineage import LineageQueries
from prodml.stores.sql_model_versions import ModelVersionQueries
from prodml.stores.sql_monitors import MonitorQueries
from prodml.stores.sql_profiles import ProfileQueries
from prodml.stores.sql_registry import RegistryQueries
from prodml.stores.sql_rollouts import RolloutQueries
from prodml.stores.sql_run_search import RunSearchQueries
from prodml.stores.sql_steps import StepQueries
from prodml.stores.sql_tokens import TokenQueries


class SqlMetadataStore(
    RunSearchQueries,
    DatasetQueries,
    ArtifactQueries,
    ProfileQueries,
    RolloutQueries,
    TokenQueries,
    HostQueries,
    RegistryQueries,
    EvaluationQueries,
    LineageQueries,
    MonitorQueries,
    AlertQueries,
    ModelVersionQueries,
    StepQueries,
):
    """Every object, link and event of the loop, on one SQL database."""


def open_metadata(url: str, user: str, busy_timeout: float = 60.0) -> MetadataStore:
    return SqlMetadataStore(url, user, busy_timeout)


def open_artifacts(url: str, home: Path) -> ArtifactStore:
    """A folder or ``file://`` URL is the local store; any other URL goes through fsspec."""
    if "://" not in url or url.startswith("file://"):
        return LocalArtifactStore(Path(url.removeprefix("file://")))
    return FsspecArtifactStore(url, home / "cache")
