"""Import an MLflow tracking store into prodml's: experiments, runs with every metric
point, artifacts, registered model versions with their aliases and stages.

Read only through MLflow's client (:mod:`prodml.interop.mlflow_source`); written a
page of runs per transaction through the store's bulk methods
(``MetadataStore.import_runs``, ``import_model_versions``), never one call per point.
Incremental: what a previous import stored is recognised by its ids and skipped, and a
run that was still running then is brought up to date."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prodml.client import Client
from prodml.errors import StoreError
from prodml.interop import mlflow_models, mlflow_runs, mlflow_source


@dataclass(frozen=True, kw_only=True)
class ImportReport:
    """What one import read and what it stored or skipped."""

    source: str
    mlflow_version: str
    experiments: int
    runs_imported: int
    runs_updated: int
    runs_skipped: int
    params: int
    metric_points: int
    artifact_files: int
    model_versions_imported: int
    model_versions_skipped: int
    aliases_moved: int
    models_refused: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0


Progress = Callable[[int], None]  # called with the number of runs read so far
RUNS_PER_WRITE = 100  # a write's metric points stay in memory until stored


def import_mlflow(
    client: Client,
    tracking_uri: str,
    model_prefix: str = "",
    progress: Progress | None = None,
) -> ImportReport:
    began = time.perf_counter()
    source = mlflow_source.describe(tracking_uri)
    with mlflow_source.opened(tracking_uri) as mlflow, _mlflow_errors(source):
        version = mlflow_source.mlflow_version()
        experiments = mlflow_source.experiments(mlflow)
        names = {experiment.experiment_id: experiment.name for experiment in experiments}
        total = mlflow_runs.RunCounts()
        read = 0
        for page in mlflow_source.run_pages(mlflow, list(names)):
            for start in range(0, len(page), RUNS_PER_WRITE):
                chunk = page[start : start + RUNS_PER_WRITE]
                counts = mlflow_runs.import_page(mlflow, client, chunk, names, source)
                for name in vars(total):
                    setattr(total, name, getattr(total, name) + getattr(counts, name))
            read += len(page)
            if progress is not None:
                progress(read)
        models = mlflow_models.import_registry(mlflow, client, source, model_prefix)
    return ImportReport(
        source=source,
        mlflow_version=version,
        experiments=len(experiments),
        runs_imported=total.imported,
        runs_updated=total.updated,
        runs_skipped=total.skipped,
        params=total.params,
        metric_points=total.points,
        artifact_files=total.artifacts,
        model_versions_imported=models.imported,
        model_versions_skipped=models.skipped,
        aliases_moved=models.aliases,
        models_refused=models.refused,
        seconds=round(time.perf_counter() - began, 3),
    )


@contextlib.contextmanager
def _mlflow_errors(source: str) -> Iterator[None]:
    """MLflow's own errors (and its store's) as one prodml error naming the next step."""
    import sqlalchemy as sa
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, sa.exc.SQLAlchemyError, OSError) as error:
        text = str(error).strip()
        message = text.splitlines()[0] if text else type(error).__name__
        if "schema" in message.lower():
            raise StoreError(
                f"MLflow could not read {source}: {message} Upgrade its schema with "
                f"`mlflow db upgrade {source}` (back it up first), then import again."
            ) from None
        raise StoreError(
            f"Reading the MLflow store {source} failed: {message}. Check the URI and that "
            "the store (or server) is readable, then import again: runs stored so far are "
            "kept and skipped next time."
        ) from None
