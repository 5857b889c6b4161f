"""One trial of a sweep, as a worker runs it: the pipeline with the trial's config
values, as a child run of the sweep's run, its steps reused wherever the cache has
them. Each worker process opens its own client from the sweep's settings."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from prodml.client import Client
from prodml.errors import ProdmlError
from prodml.pipelines import plan, runner, space
from prodml.pipelines.space_document import SpaceDocument

State = Literal["complete", "pruned", "failed"]
_clients: dict[str, Client] = {}  # one per worker process and settings


@dataclass(frozen=True, kw_only=True)
class TrialTask:
    settings: dict[str, Any]  # the sweep's client settings
    path: str  # the pipeline file
    overrides: tuple[str, ...]  # the sweep's own, then the trial's values
    number: int
    sweep: str  # the sweep's name
    sweep_run: str
    objective: str
    intermediate: str | None = None
    study: tuple[str, str] | None = None  # (journal file, study name): pruning in the worker
    trial_id: int | None = None
    pruner: str = "none"
    accept_leakage: str | None = None  # the reason to train despite hard leakage findings


@dataclass(frozen=True, kw_only=True)
class TrialOutcome:
    number: int
    state: State
    value: float | None
    run_id: str | None
    seconds: float
    ran: tuple[str, ...] = ()  # the steps that ran (the rest were reused)
    error: str | None = None
    metrics: dict[str, float] | None = None


@dataclass(frozen=True, kw_only=True)
class Trial:
    number: int
    values: dict[str, Any]
    outcome: TrialOutcome


@dataclass(frozen=True, kw_only=True)
class SweepPlan:
    """What every trial of one sweep shares: a driver asks Optuna for each trial's
    values, runs :func:`run_trial` on the tasks this makes, and tells the outcomes."""

    searched: SpaceDocument
    trials: int  # at most this many
    name: str  # the sweep's
    run_id: str  # the sweep's run
    path: str  # the pipeline file
    base: tuple[str, ...]  # the sweep's own overrides
    settings: dict[str, Any]  # the client's, for workers to open their own
    home: str  # a folder of this machine for the driver's files
    accept_leakage: str | None = None
    report: Callable[[Trial], None] | None = None

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The values of an Optuna trial, by config key."""
        return space.suggest(trial, self.searched)

    def queued(self) -> list[dict[str, Any]]:
        """The points tried first, in order: a grid's, shuffled by its seed."""
        if self.searched.sampler != "grid":
            return []
        return space.grid_points(self.searched)[: self.trials]

    def task(
        self,
        number: int,
        values: dict[str, Any],
        study: tuple[str, str] | None = None,
        trial_id: int | None = None,
    ) -> TrialTask:
        searched = self.searched
        return TrialTask(
            settings=self.settings,
            path=self.path,
            overrides=self.base + values_as_overrides(values),
            number=number,
            sweep=self.name,
            sweep_run=self.run_id,
            objective=searched.objective,
            intermediate=searched.intermediate,
            study=study,
            trial_id=trial_id,
            pruner=searched.pruner,
            accept_leakage=self.accept_leakage,
        )


def values_as_overrides(values: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f"{key}={_yaml_value(value)}" for key, value in values.items())


def _yaml_value(value: Any) -> str:
    """``value`` as YAML text that reads back as it: a float Python writes with an
    exponent and no point (1e-05) is text to YAML 1.1, so it gets one (1.0e-05)."""
    text = json.dumps(value)
    if isinstance(value, float) and "e" in text:
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
    return text


def run_trial(task: TrialTask, watch: runner.Watch | None = None) -> TrialOutcome:
    """Run the trial; ``watch`` sees each metric a step logs (default: the trial's
    pruner, through the study's journal, when the space names an intermediate metric)."""
    started = time.perf_counter()
    client = _client(task.settings)
    tags = {"prodml.sweep": task.sweep, "prodml.trial": str(task.number)}
    try:
        pipeline = plan.load(task.path, task.overrides)
        result = runner.run_pipeline(
            client,
            pipeline,
            parent=task.sweep_run,
            tags=tags,
            watch=watch or _watcher(task),
            accept_leakage=task.accept_leakage,
        )
    except ProdmlError as error:
        return TrialOutcome(
            number=task.number,
            state="failed",
            value=None,
            run_id=None,
            seconds=time.perf_counter() - started,
            error=str(error),
        )
    value = result.metrics.get(task.objective)
    state: State = "pruned" if result.pruned else "complete" if value is not None else "failed"
    missing = (
        f"The pipeline logged no metric {task.objective!r} (it logged: "
        f"{', '.join(sorted(result.metrics)) or 'none'}); set objective: to one of them."
        + _as_value(result, task.objective)
    )
    return TrialOutcome(
        number=task.number,
        state=state,
        value=value,
        run_id=result.run_id,
        seconds=time.perf_counter() - started,
        ran=tuple(result.ran),
        error=missing if state == "failed" else None,
        metrics=result.metrics,
    )


def _as_value(result: runner.PipelineResult, objective: str) -> str:
    """A hint when a step returned the objective as one named output among others (a
    value kept with its cache entry, not a metric)."""
    from prodml.domain.steps import OutputKind

    for step in result.steps:
        for output in step.outputs:
            if output.name == objective and output.kind is OutputKind.VALUE:
                return (
                    f" Step {step.name!r} returned {objective!r} as a value beside its other "
                    f"outputs; return metrics as a mapping of their own: "
                    f"{{'metrics': {{{objective!r}: ...}}, ...}}."
                )
    return ""


def _client(settings: dict[str, Any]) -> Client:
    key = json.dumps(settings, sort_keys=True, default=str)
    if key not in _clients:
        _clients[key] = Client(**settings)
    return _clients[key]


def _watcher(task: TrialTask) -> runner.Watch | None:
    """Reports the intermediate metric to the trial; raises Pruned when the pruner says so."""
    if task.intermediate is None or task.study is None or task.trial_id is None:
        return None
    optuna = space.optuna()
    journal, name = task.study
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    study = optuna.load_study(study_name=name, storage=storage, pruner=space.pruner(task.pruner))
    trial = optuna.trial.Trial(study, task.trial_id)
    reported: set[int] = set()

    def watch(key: str, value: float, step: int | None) -> None:
        if key != task.intermediate or step is None or step in reported:
            return
        reported.add(step)
        trial.report(value, step)
        if trial.should_prune():
            raise runner.Pruned(f"trial {task.number} pruned at {key} step {step}")

    return watch
