"""MLflow runs as prodml runs: the same id, experiment (by name), status, times, params,
tags and every metric point, and the run's artifact files as prodml artifacts.

An imported run keeps its MLflow run id as its prodml id, so ``prodml runs show ID``
finds it and a second import knows it: a run stored finished is skipped; one stored
while it was running is brought up to date (status, end, new params, tags and its
whole metric history again). A tag ``import.source`` says where it came from."""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml.client import Client
from prodml.domain.artifact import Artifact
from prodml.domain.ids import from_epoch, new_id, utcnow
from prodml.domain.run import Run, RunStatus
from prodml.interop import mlflow_source

STATUS = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.FAILED,
}
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
# logs "No artifacts found to download" at INFO for a run without artifacts
_ARTIFACT_LOG = "mlflow.store.artifact.artifact_repo"


@dataclass
class RunCounts:
    """What one import did with the runs it read."""

    imported: int = 0
    updated: int = 0
    skipped: int = 0
    params: int = 0
    points: int = 0
    artifacts: int = 0


def run_id(mlflow_id: str) -> str:
    """The prodml id of an MLflow run: its own id when it has prodml's form (32 hex
    digits, as MLflow makes them), else one derived from it."""
    if _HEX_ID.match(mlflow_id):
        return mlflow_id
    return uuid.uuid5(uuid.NAMESPACE_URL, f"mlflow-run:{mlflow_id}").hex


def to_run(run: Any, experiment: str, source: str) -> Run:
    info, data = run.info, run.data
    status = STATUS.get(str(info.status), RunStatus.FAILED)
    started = from_epoch(info.start_time / 1000) if info.start_time else utcnow()
    ended = None
    if status is not RunStatus.RUNNING:
        ended = from_epoch(info.end_time / 1000) if info.end_time else started
    tags = dict(data.tags)
    tags.update({"import.source": "mlflow", "import.uri": source})
    tags["import.experiment_id"] = str(info.experiment_id)
    return Run(
        id=run_id(info.run_id),
        experiment=experiment,
        status=status,
        author=info.user_id or tags.get("mlflow.user") or "mlflow",
        started_at=started,
        ended_at=ended,
        hypothesis=tags.get("mlflow.note.content"),
        environment={"mlflow": {"run_id": info.run_id, "artifact_uri": info.artifact_uri}},
        git_commit=tags.get("mlflow.source.git.commit"),
        error="killed in MLflow" if info.status == "KILLED" else None,
        params=dict(data.params),
        tags=tags,
    )


def import_page(
    mlflow: Any, client: Client, page: Sequence[Any], names: dict[str, str], source: str
) -> RunCounts:
    """Store the runs of one page of MLflow's search that are new or were running, in
    one write."""
    store = client.metadata
    by_id = {run_id(run.info.run_id): run for run in page}
    stored = {run.id: run for run in store.list_runs(ids=list(by_id))}
    wanted = [
        run
        for prodml_id, run in by_id.items()
        if prodml_id not in stored or stored[prodml_id].status is RunStatus.RUNNING
    ]
    counts = RunCounts(skipped=len(page) - len(wanted))
    if not wanted:
        return counts
    runs = [to_run(run, names[run.info.experiment_id], source) for run in wanted]
    points = [
        (run_id(mlflow_id), key, step, value, at)
        for mlflow_id, key, step, value, at in mlflow_source.metric_points(mlflow, wanted)
    ]
    artifacts = [
        artifact
        for run in wanted
        for artifact in run_artifacts(mlflow, client, run.info.run_id, run_id(run.info.run_id))
    ]
    store.import_runs(runs, points, artifacts, source)
    counts.updated = sum(1 for run in runs if run.id in stored)
    counts.imported = len(runs) - counts.updated
    counts.params = sum(len(run.params) for run in runs)
    counts.points = len(points)
    counts.artifacts = len(artifacts)
    return counts


def artifact_files(mlflow: Any, mlflow_id: str, path: str | None = None) -> list[str]:
    """The paths of every file under a run's artifact root."""
    found: list[str] = []
    for entry in mlflow.list_artifacts(mlflow_id, path):
        if entry.is_dir:
            found.extend(artifact_files(mlflow, mlflow_id, entry.path))
        else:
            found.append(entry.path)
    return found


def run_artifacts(mlflow: Any, client: Client, mlflow_id: str, prodml_id: str) -> list[Artifact]:
    """The run's artifact files not yet stored under its prodml id, each put in the blob
    store under its path in MLflow. A run new here has its whole artifact folder read in
    one call (which MLflow downloads file by file in parallel); one stored before, only
    the files it lacks."""
    known = {artifact.name for artifact in client.metadata.list_artifacts("run", prodml_id)}
    found = []
    with tempfile.TemporaryDirectory(prefix="prodml-mlflow-") as folder:
        if known:
            paths = [path for path in artifact_files(mlflow, mlflow_id) if path not in known]
            files = {
                path: Path(mlflow.download_artifacts(mlflow_id, path, folder)) for path in paths
            }
        else:
            with _quiet(_ARTIFACT_LOG):  # no line per run without artifacts
                root = Path(mlflow.download_artifacts(mlflow_id, "", folder))
            files = {
                local.relative_to(root).as_posix(): local
                for local in sorted(root.rglob("*"))
                if local.is_file()
            }
        for path, local in files.items():
            digest, size = client.artifacts.put_file(local)
            found.append(
                Artifact(
                    id=new_id(),
                    owner_kind="run",
                    owner_id=prodml_id,
                    name=path,
                    digest=digest,
                    size=size,
                    media_type=mimetypes.guess_type(path)[0] or "application/octet-stream",
                    created_at=utcnow(),
                )
            )
    return found


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The logger ``name`` shows warnings and errors only, while the block runs."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
