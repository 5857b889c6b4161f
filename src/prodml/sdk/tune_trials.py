"""A sweep's trials on Ray, driven by Ray Tune: Tune's ``OptunaSearch`` asks the sweep's
Optuna sampler for each trial's values (the same sampler, seed and queued grid points
as on this machine, so a seed tries the same values on either executor), a
``ConcurrencyLimiter`` keeps ``workers`` trials running, and each trial is a Tune
function trainable of one CPU that runs the pipeline as a child run of the sweep.

Pruning is the sweep's Optuna pruner, consulted by a Tune scheduler in the driver
each time a trial reports its intermediate metric: a trial it stops leaves Tune's
``report`` at once (Tune ends a stopped function with ``SystemExit`` there), which the
trial's step takes as :class:`~prodml.pipelines.runner.Pruned`, so its runs end as a
pruned trial's do on this machine. Nothing is shared through files: a cluster's
workers need the store, not the driver's disk."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from prodml.client import Client
from prodml.pipelines.pools import trial_runs, worker_failed
from prodml.pipelines.trials import SweepPlan, Trial, TrialOutcome

ENDING_SECONDS = 5.0  # a stopped trial's worker gets this long to end its runs itself


class TuneTrials:
    """Each trial a Ray Tune trial of one CPU, ``workers`` at once. Ray is started (or
    the cluster joined) when the first trial is asked: a pipeline or space file the
    sweep refuses never waits for it."""

    name = "ray"

    def __init__(self, workers: int, address: str | None = None) -> None:
        from prodml.sdk.executors import _ray, _reachable

        _ray()  # refused now, not after the base run
        if address:
            _reachable(address)
        self.workers = workers
        self._address = address

    def drive(self, client: Client, sweep: SweepPlan) -> list[Trial]:
        from prodml.sdk.executors import RayExecutor

        RayExecutor(self._address)._connected()
        from ray import tune
        from ray.tune.search import ConcurrencyLimiter

        from prodml.pipelines import space
        from prodml.sdk import tune_parts as parts

        searched = sweep.searched
        searcher = parts.Search(
            space=parts.Suggest(searched),
            metric=parts.VALUE,
            mode="max" if searched.direction == "maximize" else "min",
            sampler=space.sampler(searched),
            points_to_evaluate=sweep.queued() or None,
        )
        searcher.study.pruner = space.pruner(searched.pruner)
        scheduler = parts.Pruning(searcher)
        finished: list[Trial] = []
        parts.HANDLERS[sweep.run_id] = _handler(client, sweep, scheduler, finished)
        folder = Path(sweep.home) / "sweeps" / "tune"
        shipped = dataclasses.replace(sweep, report=None)  # the caller's callback stays here
        trainable = tune.with_parameters(parts.trainable, sweep=shipped)
        with _quiet():
            tuner = tune.Tuner(
                tune.with_resources(trainable, {"cpu": 1}),
                tune_config=tune.TuneConfig(
                    search_alg=ConcurrencyLimiter(searcher, max_concurrent=self.workers),
                    scheduler=scheduler,
                    num_samples=sweep.trials,
                ),
                run_config=tune.RunConfig(
                    name=sweep.run_id,
                    storage_path=str(folder),
                    verbose=0,
                    callbacks=[parts.Finished(sweep.run_id)],
                    log_to_file=False,
                ),
            )
            try:
                tuner.fit()
            finally:
                parts.HANDLERS.pop(sweep.run_id, None)
                shutil.rmtree(folder / sweep.run_id, ignore_errors=True)
        return finished


def _handler(client: Client, sweep: SweepPlan, scheduler: Any, finished: list[Trial]) -> Any:
    from prodml.sdk.tune_parts import outcome_of

    def done(trial: Any, error: BaseException | None, seconds: float) -> None:
        number, values = int(trial.config["number"]), dict(trial.config["values"])
        outcome = outcome_of(trial.last_result)
        if outcome is None and trial.trial_id in scheduler.pruned:
            outcome = _pruned(client, sweep.name, number, seconds)
        elif outcome is None:
            failure = error or RuntimeError("it ended without a result")
            outcome = worker_failed(client, failure, number, sweep.name, seconds)
        finished.append(Trial(number=number, values=values, outcome=outcome))
        if sweep.report is not None:
            sweep.report(finished[-1])

    return done


def _pruned(client: Client, sweep: str, number: int, seconds: float) -> TrialOutcome:
    """A trial the scheduler stopped. Its worker ends its runs as pruned on its way out;
    those Ray ended the worker before it did are ended so here."""
    from prodml.domain.run import RunStatus

    deadline = time.monotonic() + ENDING_SECONDS
    run_id, running = trial_runs(client, sweep, number)
    while running and time.monotonic() < deadline:
        time.sleep(0.05)
        run_id, running = trial_runs(client, sweep, number)
    for left in running:
        client.metadata.set_run_tags(left, {"prodml.pruned": "true"})
        client.metadata.finish_run(left, RunStatus.FINISHED, time.time())
    return TrialOutcome(number=number, state="pruned", value=None, run_id=run_id, seconds=seconds)


class _quiet:
    """Tune's own logging and result files off while it drives a sweep: the sweep's
    runs hold what a trial did."""

    def __enter__(self) -> None:
        self._loggers = {name: logging.getLogger(name).level for name in ("ray.tune", "ray.train")}
        for name in self._loggers:
            logging.getLogger(name).setLevel(logging.ERROR)
        self._env = {k: os.environ.get(k) for k in _ENV}
        os.environ.update(_ENV)

    def __exit__(self, *exc: object) -> None:
        for name, level in self._loggers.items():
            logging.getLogger(name).setLevel(level)
        for key, value in self._env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no CSV, JSON or TensorBoard files per trial
    "RAY_AIR_NEW_OUTPUT": "0",  # whose experiment summary verbose=0 does not keep quiet
}
