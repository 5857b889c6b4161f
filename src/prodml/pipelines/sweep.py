"""Sweeps: many trials of one pipeline over a search space, chosen by Optuna's
samplers (grid, random, TPE), pruned on an intermediate metric, run by an executor
(local processes here; Ray Tune above the core). The sweep is a run; each trial is a
child run of it; the steps no swept key reaches run once first, as the sweep's base
run, and every trial builds on them from the cache."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prodml.client import Client
from prodml.domain.ids import new_id
from prodml.errors import InvalidInputError, echoed
from prodml.pipelines import plan, runner, space
from prodml.pipelines.config import texts
from prodml.pipelines.space_document import SpaceDocument
from prodml.pipelines.trials import TrialOutcome, TrialTask, run_trial, values_as_overrides
from prodml.track.start import start_run

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


class TrialExecutor(Protocol):
    name: str
    workers: int

    def submit(self, task: TrialTask) -> Future[TrialOutcome]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Trial:
    number: int
    values: dict[str, Any]
    outcome: TrialOutcome


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    name: str
    run_id: str
    base_run: str | None  # the run of the steps every trial shares
    objective: str
    direction: str
    trials: tuple[Trial, ...]
    seconds: float
    workers: int = 1  # trials at once

    @property
    def best(self) -> Trial | None:
        done = [t for t in self.trials if t.outcome.state == "complete"]
        if not done:
            return None
        sign = 1.0 if self.direction == "maximize" else -1.0
        return max(done, key=lambda t: sign * (t.outcome.value or 0.0))


def run_sweep(
    client: Client,
    path: str | Path,
    space_source: str | Path | dict[str, Any],
    trials: int,
    executor: TrialExecutor,
    overrides: Iterable[str] | str = (),
    name: str | None = None,
    report: Callable[[Trial], None] | None = None,
    accept_leakage: str | None = None,
) -> SweepResult:
    """Run up to ``trials`` trials, as many at once as the executor has workers
    (``accept_leakage``: as for :func:`runner.run_pipeline`, for every trial)."""
    if trials < 1:
        raise InvalidInputError(f"trials must be 1 or more, not {trials}.")
    runner.check_accept_reason(accept_leakage)
    started = time.perf_counter()
    searched = space.read(space_source)
    base = tuple(texts(overrides, "overrides", "train.max_depth=8"))
    pipeline = plan.load(path, base)
    shared = _shared_steps(pipeline, searched)
    if searched.sampler == "grid":
        trials = min(trials, space.grid_size(searched))
    if name:
        _check_new_name(client, name)
    name = name or f"{pipeline.name}-sweep-{new_id()[:8]}"
    optuna = space.optuna()
    tags = {"prodml.sweep": name, "prodml.sweep.role": "sweep"}
    document = {
        "space": searched.model_dump(by_alias=True),
        "trials": trials,
        "overrides": list(base),
        **({"accept_leakage": accept_leakage} if accept_leakage is not None else {}),
    }
    with start_run(client, pipeline.name, document, tags=tags) as sweep_run:
        base_run = None
        if shared:
            done = runner.run_pipeline(
                client,
                pipeline,
                parent=sweep_run,
                only=shared,
                tags={"prodml.sweep": name, "prodml.sweep.role": "base"},
                accept_leakage=accept_leakage,
            )
            base_run = done.run_id
        journal = Path(client.settings.home) / "sweeps" / f"{sweep_run.id}.journal"
        journal.parent.mkdir(parents=True, exist_ok=True)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal))
        )
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction=searched.direction,
            sampler=space.sampler(searched),
            pruner=space.pruner(searched.pruner),
        )
        if searched.sampler == "grid":
            for point in space.grid_points(searched)[:trials]:
                study.enqueue_trial(point)
        settings = dataclasses.asdict(client.settings)
        finished: list[Trial] = []
        running: dict[Future[TrialOutcome], tuple[Any, dict[str, Any], float]] = {}
        asked = 0
        try:
            while asked < trials or running:
                while asked < trials and len(running) < executor.workers:
                    trial = study.ask()
                    values = space.suggest(trial, searched)
                    task = TrialTask(
                        settings=settings,
                        path=str(pipeline.path),
                        overrides=base + values_as_overrides(values),
                        number=trial.number,
                        sweep=name,
                        sweep_run=sweep_run.id,
                        objective=searched.objective,
                        intermediate=searched.intermediate,
                        study=(str(journal), name),
                        trial_id=trial._trial_id,
                        pruner=searched.pruner,
                        accept_leakage=accept_leakage,
                    )
                    running[executor.submit(task)] = (trial, values, time.perf_counter())
                    asked += 1
                done_now, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done_now:
                    trial, values, submitted = running.pop(future)
                    outcome = _outcome(client, future, trial.number, name, submitted)
                    _tell(study, trial, outcome)
                    finished.append(Trial(number=outcome.number, values=values, outcome=outcome))
                    if report is not None:
                        report(finished[-1])
        finally:
            executor.close()
        result = SweepResult(
            name=name,
            run_id=sweep_run.id,
            base_run=base_run,
            objective=searched.objective,
            direction=searched.direction,
            trials=tuple(sorted(finished, key=lambda t: t.number)),
            seconds=time.perf_counter() - started,
            workers=executor.workers,
        )
        best = result.best
        if best is not None and best.outcome.value is not None:
            sweep_run.log_metrics({f"best_{searched.objective}": best.outcome.value})
            client.metadata.set_run_tags(
                sweep_run.id, {"prodml.sweep.best": best.outcome.run_id or ""}
            )
    return result


def _check_new_name(client: Client, name: str) -> None:
    """A sweep is found by its name: a second sweep under it would have its trials
    ranked with the first one's."""
    from prodml.domain.run_query import quoted_value
    from prodml.track.search import search_runs

    query = f"tags.prodml.sweep = {quoted_value(name)} and tags.prodml.sweep.role = 'sweep'"
    earlier = search_runs(client, query, "started desc", 1).runs
    if earlier:
        raise InvalidInputError(
            f"A sweep named {echoed(name)} exists already (run {earlier[0].id[:12]}); its "
            "trials and this one's would be ranked together. Give this sweep another "
            "--name, or none for a new one."
        )


def _shared_steps(pipeline: plan.Pipeline, searched: SpaceDocument) -> set[str]:
    """The steps no swept key reaches: the same in every trial."""
    varying: set[str] = set()
    for key in searched.parameters:
        reading = pipeline.reading(key)
        if not reading:
            slices = ", ".join(sorted({s.config_path for s in pipeline.steps}))
            raise InvalidInputError(
                f"Search space parameters.{key} is in no step's config slice (slices: "
                f"{slices}); a trial would change nothing. Name a key under one of them."
            )
        _check_value(pipeline.config, key)
        for name in sorted(reading):
            _check_kind(pipeline.step(name), key, searched.parameters[key])
        varying |= reading
    return {s.name for s in pipeline.steps} - pipeline.downstream(varying)


def _check_kind(step: plan.Step, key: str, parameter: Any) -> None:
    """A float range (or choices with fractions) searched for a parameter the step
    annotates ``int``: every trial but a lucky one would be refused, so say it now."""
    from prodml.pipelines import config_types

    argument = key.removeprefix(step.config_path + ".")
    wanted = config_types.wanted_kinds(step.annotations.get(argument, ""))
    if wanted is None or config_types.KINDS["int"] not in wanted:
        return  # not a whole-number parameter
    if config_types.KINDS["float"] in wanted:
        return  # int | float takes a fraction
    fractional = parameter.number is not None or any(
        isinstance(c, float) and not c.is_integer() for c in parameter.choice or []
    )
    if fractional:
        raise InvalidInputError(
            f"Search space parameters.{key} gives numbers with fractions, but step "
            f"{step.name!r} takes {argument}: {step.annotations[argument]}. Search it as "
            "int: [low, high] (or choices of whole numbers)."
        )


def _check_value(config: dict[str, Any], key: str) -> None:
    """A searched key names one value the config has: a trial overrides it, so a key
    the config lacks, or a whole mapping, would fail or break every trial."""
    place: Any = config
    for depth, part in enumerate(key.split(".")):
        where = ".".join(key.split(".")[:depth]) or "the config"
        if not isinstance(place, dict):
            raise InvalidInputError(
                f"Search space parameters.{key}: {where} is {place!r:.40}, not a mapping "
                f"with keys. Search {where} itself, or fix the name."
            )
        if part not in place:
            raise InvalidInputError(
                f"Search space parameters.{key}: {where} has no key {part!r}, so every "
                f"trial would fail. Give {key} a value in the pipeline's config (or add it "
                f"with -s +{key}=VALUE), or fix the name."
            )
        place = place[part]
    if isinstance(place, dict):
        inside = ", ".join(f"{key}.{name}" for name in place) or "none"
        raise InvalidInputError(
            f"Search space parameters.{key} is a whole mapping of the config; a trial "
            f"would replace it with one value. Search a key inside it ({inside})."
        )


# the errors of a worker that died (this machine's process pool; Ray)
POOL = "BrokenProcessPool"  # this machine's pool ends every trial it was running
WORKER_DIED = {POOL, "WorkerCrashedError", "NodeDiedError", "OutOfMemoryError"}


def _outcome(
    client: Client, future: Future[TrialOutcome], number: int, sweep: str, submitted: float
) -> TrialOutcome:
    """The trial's outcome; a trial whose worker died (killed by the system for memory,
    a crash in native code, os._exit) is a failed trial, its runs ended as failed."""
    try:
        return future.result()
    except Exception as error:  # the worker, not the trial's code, failed
        died = type(error).__name__ in WORKER_DIED
        beside = "; trials running beside it end with it" * (type(error).__name__ == POOL)
        reason = (
            f"its worker process ended abruptly ({type(error).__name__}): the system may "
            f"have killed it for memory, or native code in a step crashed{beside}"
            if died
            else f"it failed in its worker: {type(error).__name__}: {error}"
        )
        _end_runs(client, sweep, number, reason)
        return TrialOutcome(
            number=number,
            state="failed",
            value=None,
            run_id=None,
            seconds=time.perf_counter() - submitted,
            error=reason[0].upper() + reason[1:],
        )


def _end_runs(client: Client, sweep: str, number: int, reason: str) -> None:
    """End as failed the runs a dead worker left running: the trial's and its steps'."""
    from prodml.domain.run import RunStatus
    from prodml.domain.run_query import quoted_value
    from prodml.track.search import search_runs

    query = f"tags.prodml.sweep = {quoted_value(sweep)} and tags.prodml.trial = '{number}'"
    for trial_run in search_runs(client, query, None, 50).runs:
        steps = search_runs(client, f"tags.prodml.parent = '{trial_run.id}'", None, 500).runs
        for run in [*steps, trial_run]:
            if run.status is RunStatus.RUNNING:
                client.metadata.finish_run(run.id, RunStatus.FAILED, time.time(), reason)


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

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def local_executor(parallel: int) -> TrialExecutor:
    if parallel < 1:
        raise InvalidInputError(f"parallel must be 1 or more, not {parallel}.")
    return InProcess() if parallel == 1 else LocalProcesses(parallel)
