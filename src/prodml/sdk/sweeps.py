"""Sweeps: ``prodml.sweep("pipeline.yaml", "space.yaml", trials=40, parallel=4)`` runs
trials of a pipeline chosen by Optuna (grid, random, TPE; pruning on an intermediate
metric), in worker processes or as Ray Tune trials, each a child run of the sweep's run that
reuses the cached steps it shares with the others."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.domain.run import Run
from prodml.domain.run_query import quoted_value
from prodml.errors import InvalidInputError, NotFoundError
from prodml.names import check_label
from prodml.sdk.openlineage import follow_settings

if TYPE_CHECKING:
    from prodml.pipelines.sweep import SweepResult, Trial, TrialDriver


def sweep(
    path: str | Path,
    space: str | Path | dict[str, Any],
    trials: int = 20,
    parallel: int = 1,
    executor: str = "local",
    overrides: Iterable[str] | str = (),
    name: str | None = None,
    address: str | None = None,
    report: Callable[[Trial], None] | None = None,
    client: Client | None = None,
    accept_leakage: str | None = None,
) -> SweepResult:
    """Run up to ``trials`` trials of the pipeline file ``path`` over the search space
    ``space`` (a file or a mapping), ``parallel`` at once: ``executor`` "local" (worker
    processes of this machine) or "ray" (Ray Tune trials; ``address`` as for ``score``).
    ``accept_leakage`` is the reason to train although a step's leakage check found
    hard problems, for every trial (recorded on each step's run)."""
    from prodml.pipelines import sweep as sweeps
    from prodml.pipelines.pools import local_trials
    from prodml.sdk.tune_trials import TuneTrials

    for argument, count in (("trials", trials), ("parallel", parallel)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidInputError(f"{argument} must be a whole number, 1 or more, not {count!r}.")
    if executor not in ("local", "ray"):
        raise InvalidInputError(f"No executor {executor!r}; choose local or ray.")
    if name is not None:
        check_label(name, "sweep")  # an empty one too: the made-up name is for None
    if executor == "local" and address is not None:
        raise InvalidInputError(
            f"address {address!r} is a Ray cluster's; the local executor runs trials in "
            "processes of this machine. Add --executor ray, or leave out --address."
        )
    most = local_workers_at_most()
    if executor == "local" and parallel > most:
        raise InvalidInputError(
            f"parallel {parallel} is more worker processes than this machine can run "
            f"({os.cpu_count() or 1} CPUs): give at most {most}, or run the trials on Ray "
            "(--executor ray)."
        )
    workers = min(parallel, trials)  # more workers than trials would never get one
    chosen = client or default_client()
    follow_settings(chosen)
    driver: TrialDriver = (
        local_trials(workers) if executor == "local" else TuneTrials(workers, address)
    )
    return sweeps.run_sweep(
        chosen, path, space, trials, driver, overrides, name, report, accept_leakage
    )


def local_workers_at_most() -> int:
    """The most trials a sweep runs at once in processes of this machine: four per CPU
    (trials that wait on I/O can share one), and never fewer than eight."""
    return max(8, 4 * (os.cpu_count() or 1))


def sweep_trials(name: str, client: Client | None = None) -> list[Run]:
    """The trial runs of the sweep ``name``, by trial number."""
    from prodml.track.search import search_runs

    check_label(name, "sweep")
    chosen = client or default_client()
    found: list[Run] = []
    token = None
    while True:
        page = search_runs(
            chosen, f"tags.prodml.sweep = {quoted_value(name)}", None, 500, token, None, None
        )
        found += [r for r in page.runs if "prodml.trial" in r.tags]
        token = page.next_page_token
        if not token:
            break
    if not found:
        raise NotFoundError(f"No sweep {name!r} with trials. List sweeps: prodml runs list")
    return sorted(found, key=lambda r: int(r.tags["prodml.trial"]))


def best_trial(name: str, client: Client | None = None) -> Run:
    """The finished trial of sweep ``name`` with the best objective."""
    chosen = client or default_client()
    trials = sweep_trials(name, chosen)
    sweep_run = chosen.metadata.get_run(trials[0].tags["prodml.parent"])
    space = sweep_run.config.get("space", {})
    objective, direction = space.get("objective"), space.get("direction", "maximize")
    scored = [r for r in trials if objective in r.metrics and "prodml.pruned" not in r.tags]
    if not scored:
        raise NotFoundError(f"No trial of sweep {name!r} finished with {objective!r}.")
    sign = 1.0 if direction == "maximize" else -1.0
    return max(scored, key=lambda r: sign * r.metrics[objective])


def trial_models(run: Run, client: Client | None = None) -> list[str]:
    """``NAME@VERSION`` of each model the trial's steps made (or reused)."""
    from prodml.track.search import search_runs

    chosen = client or default_client()
    steps = search_runs(
        chosen, f"tags.prodml.parent = {quoted_value(run.id)}", None, 500, None, None, None
    )
    found: list[str] = []
    for step in steps.runs:
        source = step.tags.get("prodml.step.reused_from", step.id)
        found += [m.ref for m in chosen.metadata.models_of_run(source)]
    return list(dict.fromkeys(found))
