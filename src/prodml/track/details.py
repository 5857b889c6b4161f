"""One run in full, as its page and ``prodml runs show`` present it: the run, its
artifacts, the models it logged, the dataset versions it read and its code diff."""

from __future__ import annotations

from dataclasses import dataclass

from prodml.client import Client
from prodml.domain.artifact import Artifact, ModelVersion
from prodml.domain.dataset import DatasetVersion
from prodml.domain.run import MetricPoint, Run

MAX_DIFF = 200_000  # characters of the code diff shown; the whole diff stays an artifact


@dataclass(frozen=True, kw_only=True)
class RunDetails:
    run: Run
    outputs: tuple[Artifact, ...]  # the artifacts it logged
    models: tuple[ModelVersion, ...]
    inputs: tuple[DatasetVersion, ...]  # every named version of each input's content
    code_diff: str | None  # the uncommitted changes the run started from, if any


def run_details(client: Client, run_id: str) -> RunDetails:
    run = client.metadata.get_run(run_id)
    artifacts = tuple(client.metadata.list_artifacts("run", run.id))
    inputs = tuple(
        version
        for digest in run.inputs
        for version in client.metadata.dataset_versions_by_digest(digest)
    )
    diff = next((a for a in artifacts if a.name == "code.diff"), None)
    text = client.read_blob(diff.digest).decode(errors="replace") if diff else None
    return RunDetails(
        run=run,
        outputs=artifacts,
        models=tuple(client.metadata.models_of_run(run.id)),
        inputs=inputs,
        code_diff=text[:MAX_DIFF] if text is not None else None,
    )


def metric_histories(
    client: Client, run_ids: list[str], keys: list[str]
) -> dict[str, dict[str, list[MetricPoint]]]:
    """Per run and key, every point of a metric's history (for curves)."""
    return {
        run_id: {key: client.metadata.metric_history(run_id, key) for key in keys}
        for run_id in run_ids
    }
