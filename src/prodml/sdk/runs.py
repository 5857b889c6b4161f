"""Runs: start one, read them back, their metric history, two compared."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.domain.dataset import DatasetVersion
from prodml.domain.run import MetricPoint, Run
from prodml.track.compare import RunComparison
from prodml.track.compare import compare_runs as _compare
from prodml.track.run import ActiveRun
from prodml.track.start import start_run as _start_run

if TYPE_CHECKING:  # table libraries load on first use, not with the SDK
    pass


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


def get_run(run_id: str, client: Client | None = None) -> Run:
    return (client or default_client()).metadata.get_run(run_id)


def list_runs(
    experiment: str | None = None, limit: int | None = None, client: Client | None = None
) -> list[Run]:
    return (client or default_client()).metadata.list_runs(experiment, limit)


def metric_history(run_id: str, key: str, client: Client | None = None) -> list[MetricPoint]:
    chosen = client or default_client()
    return chosen.metadata.metric_history(chosen.metadata.resolve_run(run_id), key)


def compare_runs(left: str, right: str, client: Client | None = None) -> RunComparison:
    """Config, params, inputs, code and metrics of two runs side by side."""
    return _compare(client or default_client(), left, right)
