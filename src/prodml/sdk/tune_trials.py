"""A sweep's trials on Ray, driven by Ray Tune: Tune's ``OptunaSearch`` asks the sweep's
Optuna sampler for each trial's values (the same sampler, seed and queued grid points
as on this machine, so a seed tries the same values on either executor), a
``ConcurrencyLimiter`` keeps ``workers`` trials running, and each trial is a Tune
function trainable of one CPU that runs the pipeline as a child run of the sweep, in a
worker Tune reuses from trial to trial (its imports paid once).

Pruning is the sweep's Optuna pruner, consulted by a Tune scheduler in the driver
each time a trial reports its intermediate metric: a trial it stops leaves Tune's
``report`` with ``SystemExit`` (how Tune ends a stopped function), which the trial's
step takes as :class:`~prodml.pipelines.runner.Pruned`, so its runs end as a pruned
trial's do on this machine before the function leaves. Nothing is shared through
files: a cluster's workers need the store, not the driver's disk. Through Ray Client
Tune itself runs on the cluster, and the outcomes come back with its results."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prodml import stops
from prodml.client import Client
from prodml.pipelines.pools import trial_runs, worker_failed
from prodml.pipelines.trials import SweepPlan, Trial, TrialOutcome

ENDING_SECONDS = 5.0  # after the sweep, for a stopped trial's worker to end its runs
TUNE_STOP_HANDLER = "signal_interrupt_tune_run"  # what Tune runs on SIGUSR1 while it runs


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
        from prodml.sdk.executors import RayExecutor, _ray

        owned = not _ray().is_initialized()  # Ray started or joined for this sweep
        ray = RayExecutor(self._address)._connected()
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
            study_name=sweep.name,  # Hyperband's brackets hash it, as on this machine
        )
        searcher.study.pruner = space.pruner(searched.pruner)
        scheduler = parts.Pruning(searcher, sweep.run_id)
        finished: dict[int, Trial] = {}
        pressed = threading.Event()  # Ctrl-C, while Tune stops the trials

        def done(config: dict[str, Any], last: Any, error: Any, seconds: float) -> None:
            if pressed.is_set() and parts.outcome_of(last) is None:
                return  # stopped by Ctrl-C: its runs end as interrupted below
            trial = _trial(client, sweep, config, last, error, seconds)
            if trial.number not in finished:
                finished[trial.number] = trial
                if sweep.report is not None:
                    sweep.report(trial)

        parts.HANDLERS[sweep.run_id] = done
        folder = Path(sweep.home) / "sweeps" / "tune"
        shipped = dataclasses.replace(sweep, report=None)  # the caller's callback stays here
        trainable = tune.with_parameters(parts.trainable, sweep=shipped, folder=os.getcwd())
        with _quiet():
            tuner = tune.Tuner(
                tune.with_resources(trainable, {"cpu": 1}),
                tune_config=tune.TuneConfig(
                    search_alg=ConcurrencyLimiter(searcher, max_concurrent=self.workers),
                    scheduler=scheduler,
                    num_samples=sweep.trials,
                    reuse_actors=True,  # a worker keeps its imports from trial to trial
                ),
                run_config=tune.RunConfig(
                    name=sweep.run_id,
                    # through Ray Client Tune runs on the cluster's head, where this
                    # machine's folders may not exist: Ray's own place there
                    storage_path=None if ray.util.client.ray.is_connected() else str(folder),
                    verbose=0,
                    log_to_file=False,
                ),
            )
            try:
                with contextlib.nullcontext() if owned else _stopping_on_ctrl_c(pressed):
                    results = tuner.fit()
                if pressed.is_set():  # Tune has stopped its workers
                    raise KeyboardInterrupt
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the trials running end
                why = stops.stopped_by() or "interrupted (Ctrl-C)"
                if owned:  # as failed; leaving Ray ends this job's workers, which would go on
                    # with their trials, and start runs, until this process ends (their
                    # runs end first, so that this reason is the one they keep)
                    _interrupted(client, sweep.name, sweep.trials, set(finished), why, False)
                    ray.shutdown()
                _interrupted(client, sweep.name, sweep.trials, set(finished), why)
                raise
            finally:
                parts.HANDLERS.pop(sweep.run_id, None)
                shutil.rmtree(folder / sweep.run_id, ignore_errors=True)
        for index in range(len(results)):  # through Ray Client Tune ran on the cluster,
            result = results[index]  # and no callback reached this process
            error = parts.unwrapped(result.error) if result.error is not None else None
            seconds = float((result.metrics or {}).get("time_total_s") or 0.0)  # Tune's
            done(result.config or {}, result.metrics, error, seconds)
        _end_pruned(client, sweep.name, list(finished.values()))
        return list(finished.values())


def _trial(
    client: Client,
    sweep: SweepPlan,
    config: dict[str, Any],
    last: dict[str, Any] | None,
    error: BaseException | None,
    seconds: float,
) -> Trial:
    """A trial that ended, from its config, its last report and its error: a final
    report carries its outcome; a trial whose last report was an intermediate one,
    with no error, was stopped by the pruner; any other failed in its worker."""
    from prodml.sdk.tune_parts import STEP, outcome_of

    number, values = int(config["number"]), dict(config["values"])
    outcome = outcome_of(last)
    if outcome is None and error is None and (last or {}).get(STEP) is not None:
        run_id = trial_runs(client, sweep.name, number)[0]  # its worker ends its runs
        outcome = TrialOutcome(
            number=number, state="pruned", value=None, run_id=run_id, seconds=seconds
        )
    elif outcome is None:
        failure = error or RuntimeError("it ended without a result")
        outcome = worker_failed(client, failure, number, sweep.name, seconds)
    return Trial(number=number, values=values, outcome=outcome)


@contextlib.contextmanager
def _stopping_on_ctrl_c(pressed: threading.Event) -> Iterator[None]:
    """For a sweep on the caller's own Ray session, which it must not leave: while Tune
    runs the trials, Ctrl-C sets ``pressed`` and asks Tune to stop (with SIGUSR1, Tune's
    own signal for it, handled while it runs), so that Tune stops and kills its workers
    (in 5 to 10 s) before the sweep ends their runs; a worker left running would go on
    with its trial, and start runs. A second Ctrl-C, or one while Tune is not running
    (or runs on a cluster through Ray Client), interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers are the main thread's
        return

    def handler(signum: int, frame: Any) -> None:
        tune_handler = signal.getsignal(signal.SIGUSR1)
        if pressed.is_set() or getattr(tune_handler, "__name__", "") != TUNE_STOP_HANDLER:
            raise KeyboardInterrupt
        pressed.set()
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted(
    client: Client,
    sweep: str,
    trials: int,
    finished: set[int],
    why: str = "interrupted (Ctrl-C)",
    settle: bool = True,
) -> None:
    """End as failed the runs of the trials still running (found in the store: through
    Ray Client the searcher that asked them ran on the cluster), until none has been
    left running for a moment: a worker being killed may still start a step's run
    (``settle`` False: one pass, before the workers are stopped, so that the sweep's
    reason is the one their runs keep)."""
    from prodml.domain.run import RunStatus
    from prodml.domain.run_query import quoted_value
    from prodml.track.search import search_runs

    reason = f"The sweep was {why} before this trial ended."
    query = f"tags.prodml.sweep = {quoted_value(sweep)} and status = 'running'"
    deadline, quiet = time.monotonic() + ENDING_SECONDS, 0
    while quiet < 2 and time.monotonic() < deadline:
        running = search_runs(client, query, None, max(50, 2 * trials)).runs
        numbers = {int(r.tags["prodml.trial"]) for r in running if "prodml.trial" in r.tags}
        ended = [r for n in sorted(numbers - finished) for r in trial_runs(client, sweep, n)[1]]
        for run_id in ended:
            client.metadata.finish_run(run_id, RunStatus.FAILED, time.time(), reason)
        quiet = 0 if ended else quiet + 1
        if not settle:
            return
        time.sleep(0.25)


def _end_pruned(client: Client, sweep: str, trials: list[Trial]) -> None:
    """The runs of pruned trials their workers left running: Tune ends a stopped trial's
    worker at the end of the sweep (or reuses it for another trial), which its runs'
    endings normally precede by milliseconds; those still running after
    ``ENDING_SECONDS`` end here, as pruned."""
    from prodml.domain.run import RunStatus

    pruned = [t.number for t in trials if t.outcome.state == "pruned"]
    deadline = time.monotonic() + ENDING_SECONDS
    while pruned:
        left = {n: trial_runs(client, sweep, n)[1] for n in pruned}
        pruned = [n for n, running in left.items() if running]
        if pruned and time.monotonic() >= deadline:
            for run_id in (r for n in pruned for r in left[n]):
                client.metadata.set_run_tags(run_id, {"prodml.pruned": "true"})
                client.metadata.finish_run(run_id, RunStatus.FINISHED, time.time())
            return
        if pruned:
            time.sleep(0.05)


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
    # Ctrl-C stops the sweep as it does on this machine (Tune's own handler would end it
    # quietly, as if every trial had been run)
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
    "RAY_AIR_NEW_OUTPUT": "0",  # whose experiment summary verbose=0 does not keep quiet
}
