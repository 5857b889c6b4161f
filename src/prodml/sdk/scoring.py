"""Batch scoring: a stored table version scored by a model version, kept as a new
dataset version linked to both, in this process or on Ray."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodml.client import Client, default_client
from prodml.errors import InvalidInputError
from prodml.sdk.openlineage import follow_settings

if TYPE_CHECKING:
    from prodml.data.executors import Executor, Progress
    from prodml.domain.scoring import ScoredDataset


def score(
    model: str,
    dataset: str,
    name: str | None = None,
    executor: str | Executor = "local",
    address: str | None = None,
    partitions: int | None = None,
    progress: Progress | None = None,
    client: Client | None = None,
) -> ScoredDataset:
    """Score every row of a table version (``"flights@4"``) with a model version
    (``"delay@3"``, ``"delay@champion"``) and log the result as a dataset version,
    by default ``<dataset>-scored-<model>``: the input's columns, ``prediction`` and,
    for a classifier, ``proba_<class>`` per class. The answers are the Predictor's
    (signature enforced, guardrails applied), as served; lineage links the model
    version (``scored``) and the input version (``input``) to the output.

    ``executor="ray"`` scores ``partitions`` parts (default: the cluster's CPUs) as Ray
    tasks, on a local Ray started for this process or the cluster at ``address``
    (``auto`` or ``ray://HOST:10001``); the output is the same as in this process.
    ``progress(done, parts)`` is called as parts finish."""
    from prodml.predict import scoring
    from prodml.sdk.executors import executor_for

    if partitions is not None and (
        isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1
    ):
        raise InvalidInputError(
            f"partitions must be 1 or more (a whole number), not {partitions!r}."
        )
    chosen = client or default_client()
    follow_settings(chosen)
    runner = executor_for(executor, address) if isinstance(executor, str) else executor
    return scoring.score(chosen, model, dataset, name, runner, partitions, progress)
