"""Runs: start one, read them back, search them, their metric history, two compared."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.domain.dataset import DatasetVersion
from prodml.domain.run import MetricPoint, Run
from prodml.domain.run_query import RunPage
from prodml.names import check_name
from prodml.sdk.openlineage import follow_settings
from prodml.track.compare import Difference as Difference  # the rows of a comparison
from prodml.track.compare import RunComparison
from prodml.track.compare import compare_runs as _compare
from prodml.track.handoff import attach_run as _attach
from prodml.track.run import ActiveRun, RunHandle, end_open_runs
from prodml.track.start import start_run as _start_run

if TYPE_CHECKING:  # table libraries load on first use, not with the SDK
    from prodml.track.details import RunDetails as RunDetails


def start_run(
    experiment: str,
    config: Mapping[str, Any] | None = None,
    hypothesis: str | None = None,
    inputs: Iterable[DatasetVersion | str] = (),
    client: Client | None = None,
    force_inputs: str | None = None,
    parent: ActiveRun | Run | str | None = None,
    builds_on: ActiveRun | Run | str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ActiveRun:
    """Start a run; use it as a context manager so it ends (or fails) on its own.

    An input whose latest validation found hard problems is refused unless
    ``force_inputs`` gives the reason, which is recorded. ``parent`` makes it a child
    run (a pipeline's step, a sweep's trial); ``builds_on`` names the run whose work it
    reuses; both are lineage edges and tags (``prodml.parent``, ``prodml.builds_on``)."""
    chosen = client or default_client()
    follow_settings(chosen)
    return _start_run(
        chosen, experiment, config, hypothesis, inputs, force_inputs, parent, builds_on, tags
    )


def fail_open_runs(error: BaseException) -> None:
    """End every run this process still has open as failed with ``error``'s text (what a
    stopped process does before it exits; at exit they would end as finished)."""
    end_open_runs(error=error)


def attach_run(run: RunHandle | str, client: Client | None = None) -> ActiveRun:
    """Log into a run started in another process: ``run`` is ``run.handle()`` passed
    from its owner (or a run id on this client's store). For a worker: a forked or
    spawned process, a Ray task. It logs through this process's own connections and
    writer; leaving its ``with`` block stores what was logged here and leaves the run
    running for its owner to end. The worker may start child runs with
    ``start_run(..., parent=run)``."""
    return _attach(run, client)


def autolog(
    experiment: str = "autolog",
    log_models: bool = True,
    disable: bool = False,
    client: Client | None = None,
) -> list[str]:
    """Record every scikit-learn, XGBoost and LightGBM fit from now on: the estimator's
    params, its metrics on each evaluation set per round (scikit-learn: its score on
    the training rows), and the fitted model with its signature; in the active run, or
    in a run of its own in ``experiment``. Returns the libraries it patched;
    ``disable=True`` puts their fits back."""
    from prodml.track import autolog as recorder

    if disable:
        recorder.disable()
        return []
    check_name(experiment, "experiment")
    return recorder.enable(client or default_client(), experiment, log_models)


def get_run(run_id: str, client: Client | None = None) -> Run:
    return (client or default_client()).metadata.get_run(run_id)


def list_runs(
    experiment: str | None = None, limit: int | None = None, client: Client | None = None
) -> list[Run]:
    return (client or default_client()).metadata.list_runs(experiment, limit)


def search_runs(
    filter: str = "",
    order_by: Sequence[str] | str | None = None,
    limit: int = 50,
    page_token: str | None = None,
    experiment: str | None = None,
    client: Client | None = None,
    offset: int | None = None,
) -> RunPage:
    """Runs matching a filter, sorted and paged::

        page = prodml.search_runs("metrics.auc > 0.8 and config.depth = 6",
                                  order_by="metrics.auc desc")
        page.runs, page.total, page.next_page_token

    The filter language (fields, operators, times) is described in
    :mod:`prodml.track.run_filter`; pass ``page.next_page_token`` back for the next page."""
    from prodml.track.search import search_runs as _search

    return _search(
        client or default_client(), filter, order_by, limit, page_token, experiment, offset
    )


def run_details(run_id: str, client: Client | None = None) -> RunDetails:
    """A run with its artifacts, models, input dataset versions and code diff."""
    from prodml.track.details import run_details as _details

    return _details(client or default_client(), run_id)


def tag_run(run_id: str, tags: Mapping[str, str], client: Client | None = None) -> None:
    """Set tags of a run (a new value replaces the old); tags are searchable (tags.KEY)."""
    from prodml.track.tags import tag_run as _tag

    _tag(client or default_client(), run_id, tags)


def metric_history(run_id: str, key: str, client: Client | None = None) -> list[MetricPoint]:
    chosen = client or default_client()
    return chosen.metadata.metric_history(chosen.metadata.resolve_run(run_id), key)


def compare_runs(left: str, right: str, client: Client | None = None) -> RunComparison:
    """Config, params, inputs, code and metrics of two runs side by side."""
    return _compare(client or default_client(), left, right)
