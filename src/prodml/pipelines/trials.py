"""One trial of a sweep, as a worker runs it: the pipeline with the trial's config
values, as a child run of the sweep's run, its steps reused wherever the cache has
them. Each worker process opens its own client from the sweep's settings."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from prodml.client import Client
from prodml.errors import ProdmlError
from prodml.pipelines import plan, runner

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


def run_trial(task: TrialTask) -> TrialOutcome:
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
            watch=_watcher(task),
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
    from prodml.pipelines import space

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
