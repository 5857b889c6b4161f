"""Trials in processes of this machine: Optuna is asked and told in the sweep's
process, each trial runs in this process (``--parallel 1``) or in a pool of fresh
worker processes, and a trial's pruner reads the study from a journal file beside
the store, which every worker on this machine can open."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prodml import stops
from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.pipelines import space
from prodml.pipelines.trials import SweepPlan, Trial, TrialOutcome, TrialTask, run_trial

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# the errors of a worker that died (this machine's process pool; Ray)
POOL = "BrokenProcessPool"  # this machine's pool ends every trial it was running
WORKER_DIED = {POOL, "WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "ActorDiedError"}


class TrialExecutor(Protocol):
    name: str
    workers: int

    def submit(self, task: TrialTask) -> Future[TrialOutcome]: ...

    def stop(self) -> None: ...  # interrupt the trials running

    def close(self) -> None: ...


class Pooled:
    """Drives a sweep's trials through an executor, ``executor.workers`` at once."""

    def __init__(self, executor: TrialExecutor) -> None:
        self.executor = executor
        self.name = executor.name
        self.workers = executor.workers

    def drive(self, client: Client, sweep: SweepPlan) -> list[Trial]:
        optuna = space.optuna()
        journal = Path(sweep.home) / "sweeps" / f"{sweep.run_id}.journal"
        journal.parent.mkdir(parents=True, exist_ok=True)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal))
        )
        study = optuna.create_study(
            study_name=sweep.name,
            storage=storage,
            direction=sweep.searched.direction,
            sampler=space.sampler(sweep.searched),
            pruner=space.pruner(sweep.searched.pruner),
        )
        for point in sweep.queued():
            study.enqueue_trial(point)
        finished: list[Trial] = []
        running: dict[Future[TrialOutcome], tuple[Any, dict[str, Any], float]] = {}
        asked = 0
        try:
            while asked < sweep.trials or running:
                while asked < sweep.trials and len(running) < self.workers:
                    trial = study.ask()
                    values = sweep.suggest(trial)
                    study_at = (str(journal), sweep.name)
                    task = sweep.task(trial.number, values, study_at, trial._trial_id)
                    running[self.executor.submit(task)] = (trial, values, time.perf_counter())
                    asked += 1
                done_now, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done_now:
                    trial, values, submitted = running.pop(future)
                    outcome = _outcome(client, future, trial.number, sweep.name, submitted)
                    _tell(study, trial, outcome)
                    finished.append(Trial(number=outcome.number, values=values, outcome=outcome))
                    if sweep.report is not None:
                        sweep.report(finished[-1])
        except BaseException as stop:
            if stops.stopped_by() or not isinstance(stop, KeyboardInterrupt):  # Ctrl-C at a
                self.executor.stop()  # terminal reaches the workers too; SIGTERM does not
            raise
        finally:
            self.executor.close()
        return finished


def _outcome(
    client: Client, future: Future[TrialOutcome], number: int, sweep: str, submitted: float
) -> TrialOutcome:
    """The trial's outcome; a trial whose worker died (killed by the system for memory,
    a crash in native code, os._exit) is a failed trial, its runs ended as failed."""
    try:
        return future.result()
    except Exception as error:  # the worker, not the trial's code, failed
        return worker_failed(client, error, number, sweep, time.perf_counter() - submitted)


def worker_failed(
    client: Client, error: BaseException, number: int, sweep: str, seconds: float
) -> TrialOutcome:
    """The failed trial whose worker raised ``error`` (or died), its runs ended."""
    died = type(error).__name__ in WORKER_DIED
    beside = "; trials running beside it end with it" * (type(error).__name__ == POOL)
    reason = (
        f"its worker process ended abruptly ({type(error).__name__}): the system may "
        f"have killed it for memory, or native code in a step crashed{beside}"
        if died
        else f"it failed in its worker: {type(error).__name__}: {error}"
    )
    for run_id in trial_runs(client, sweep, number)[1]:
        _failed(client, run_id, reason)
    return TrialOutcome(
        number=number,
        state="failed",
        value=None,
        run_id=None,
        seconds=seconds,
        error=reason[0].upper() + reason[1:],
    )


def _failed(client: Client, run_id: str, reason: str) -> None:
    from prodml.domain.run import RunStatus

    client.metadata.finish_run(run_id, RunStatus.FAILED, time.time(), reason)


def trial_runs(client: Client, sweep: str, number: int) -> tuple[str | None, list[str]]:
    """Trial ``number``'s run (None if it started none) and those of its runs still
    running, its steps' first, as a worker that stopped without ending them left them."""
    from prodml.domain.run import RunStatus
    from prodml.domain.run_query import quoted_value
    from prodml.track.search import search_runs

    query = f"tags.prodml.sweep = {quoted_value(sweep)} and tags.prodml.trial = '{number}'"
    found = search_runs(client, query, None, 50).runs
    running: list[str] = []
    for trial_run in found:
        steps = search_runs(client, f"tags.prodml.parent = '{trial_run.id}'", None, 500).runs
        running += [r.id for r in [*steps, trial_run] if r.status is RunStatus.RUNNING]
    return (found[0].id if found else None), running


def _tell(study: Any, trial: Any, outcome: TrialOutcome) -> None:
    from optuna.trial import TrialState

    if outcome.state == "complete":
        study.tell(trial, outcome.value)
    elif outcome.state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)


class InProcess:
    """Trials one after another in this process (``--parallel 1``)."""

    name = "local"
    workers = 1

    def submit(self, task: TrialTask) -> Future[TrialOutcome]:
        future: Future[TrialOutcome] = Future()
        try:
            future.set_result(run_trial(task))
        except Exception as error:  # told as the failed trial, as from a worker process
            future.set_exception(error)
        return future

    def stop(self) -> None:
        return None

    def close(self) -> None:
        return None


class LocalProcesses:
    """Trials in ``workers`` worker processes of this machine (started fresh, not forked:
    a forked copy of an open store and its writer thread is not safe)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = self._new_pool()

    def submit(self, task: TrialTask) -> Future[TrialOutcome]:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self._pool.submit(run_trial, task)
        except BrokenProcessPool:  # a worker died: the trials it ended failed, start afresh
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(run_trial, task)

    def _new_pool(self) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def stop(self) -> None:
        """Interrupt the trials running, as Ctrl-C would: each worker's trial ends its
        runs as failed, then the worker takes no more."""
        processes = getattr(self._pool, "_processes", None) or {}
        for process in list(processes.values()):
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGINT)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def local_trials(parallel: int) -> Pooled:
    """Trials in this process (``parallel`` 1) or in ``parallel`` worker processes."""
    if parallel < 1:
        raise InvalidInputError(f"parallel must be 1 or more, not {parallel}.")
    return Pooled(InProcess() if parallel == 1 else LocalProcesses(parallel))
