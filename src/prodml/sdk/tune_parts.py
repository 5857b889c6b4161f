"""What Ray Tune runs and calls for a sweep (:mod:`prodml.sdk.tune_trials` drives it):
the trainable, the Optuna search and the scheduler (pruning, and each trial's end).
They live at module level because Tune pickles them with the experiment; what holds
the store's client stays in the driver, in ``HANDLERS``."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

from optuna.trial import TrialState
from ray import tune
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search.optuna import OptunaSearch

from prodml.pipelines import space
from prodml.pipelines.runner import Pruned
from prodml.pipelines.space_document import SpaceDocument
from prodml.pipelines.trials import SweepPlan, TrialOutcome, run_trial

VALUE = "prodml_value"  # the objective's final value (None in an intermediate report)
STEP = "prodml_step"  # an intermediate report's step (None in the final one)
INTERMEDIATE = "prodml_intermediate"
OUTCOME = "prodml_outcome"  # the final report: the TrialOutcome as JSON
# the driver's handler of a trial that ended (config, last report, error, seconds), by
# sweep run id; absent where Tune runs on a cluster through Ray Client
HANDLERS: dict[str, Callable[[dict[str, Any], Any, Any, float], None]] = {}


def trainable(config: dict[str, Any], sweep: SweepPlan, folder: str) -> None:
    """One trial in a Ray worker: the pipeline with the trial's values, in the sweep's
    working ``folder`` where this machine has it (Tune moves a trial into a folder of
    its own; a step reading a file by a relative path reads it where the sweep ran)."""
    import os

    if os.path.isdir(folder):
        os.chdir(folder)
    number, values = int(config["number"]), dict(config["values"])
    task = sweep.task(number, values)
    reported: set[int] = set()
    stopped: list[int] = []

    def watch(key: str, value: float, step: int | None) -> None:
        if key != task.intermediate or step is None or step in reported:
            return
        reported.add(step)
        try:
            tune.report({VALUE: None, STEP: int(step), INTERMEDIATE: float(value)})
        except SystemExit:  # the scheduler stopped this trial: Tune takes no more reports
            stopped.append(step)
            raise Pruned(f"trial {number} pruned at {key} step {step}") from None

    pruning = task.intermediate is not None and task.pruner != "none"
    outcome = run_trial(task, watch if pruning else lambda *_: None)
    if stopped:  # its runs ended as pruned: now leave as Tune's stop expects
        raise SystemExit(0)
    text = json.dumps(dataclasses.asdict(outcome))
    tune.report({VALUE: outcome.value, STEP: None, OUTCOME: text})


def outcome_of(result: dict[str, Any] | None) -> TrialOutcome | None:
    """The outcome a trial's final report carries, if it made one."""
    text = (result or {}).get(OUTCOME)
    if not isinstance(text, str):
        return None
    fields = json.loads(text)
    return TrialOutcome(**{**fields, "ran": tuple(fields.get("ran") or ())})


class Suggest:
    """The define-by-run space: the sweep's own suggestions, so a seed gives the values
    it gives on the other executor."""

    def __init__(self, searched: SpaceDocument) -> None:
        self.searched = searched

    def __call__(self, trial: Any) -> None:
        space.suggest(trial, self.searched)


class Search(OptunaSearch):
    """Tune's Optuna search whose configs are ``{"number": the Optuna trial's number,
    "values": by config key}``, told each trial's end as the sweep's state says."""

    @property
    def study(self) -> Any:
        return self._ot_study

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if super().suggest(trial_id) is None:
            return None
        asked = self._ot_trials[trial_id]
        return {"number": asked.number, "values": dict(asked.params)}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        return None  # the scheduler reports the intermediate values (it is called first)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        asked = self._ot_trials.get(trial_id)
        if asked is None or trial_id in self._completed_trials:
            return
        outcome = outcome_of(result)
        pruned = outcome.state == "pruned" if outcome is not None else not error
        if outcome is not None and outcome.state == "complete":
            self.study.tell(asked, outcome.value)
        elif pruned:
            self.study.tell(asked, state=TrialState.PRUNED)
        else:
            self.study.tell(asked, state=TrialState.FAIL)
        self._completed_trials.add(trial_id)

    def save(self, checkpoint_path: str) -> None:
        raise NotImplementedError  # the sweep is kept in the store, not resumed by Tune


class Pruning(FIFOScheduler):
    """Reports each intermediate value to the trial's Optuna trial and stops the trial
    when the sweep's pruner says so; hands each trial's end, in the driver, to the
    sweep's handler at once. (Not a Tune ``Callback``: given one, Tune imports its
    MLflow, W&B, Comet and Aim integrations to count callbacks, 0.7 s of CPU when
    MLflow is installed.)"""

    def __init__(self, searcher: Search, key: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.searcher = searcher
        self.key = key
        self.started: dict[str, float] = {}

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        trial = super().choose_trial_to_run(tune_controller)
        if trial is not None:  # Tune starts it now (asked again until it has started)
            self.started.setdefault(trial.trial_id, time.perf_counter())
        return trial

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        step = result.get(STEP)
        asked = self.searcher._ot_trials.get(trial.trial_id)
        if step is None or asked is None:
            return str(TrialScheduler.CONTINUE)
        asked.report(result[INTERMEDIATE], step)
        if asked.should_prune():
            return str(TrialScheduler.STOP)
        return str(TrialScheduler.CONTINUE)

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        super().on_trial_complete(tune_controller, trial, result)
        self._done(trial, None)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_error(tune_controller, trial)
        self._done(trial, _error(trial))

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_remove(tune_controller, trial)
        self._done(trial, None)  # a trial that had not started, stopped with the sweep

    def _done(self, trial: Any, error: BaseException | None) -> None:
        handler = HANDLERS.get(self.key)
        if handler is not None:
            started = self.started.get(trial.trial_id, time.perf_counter())
            handler(trial.config, trial.last_result, error, time.perf_counter() - started)


def _error(trial: Any) -> BaseException:
    """The error a trial's worker ended with, unwrapped from Ray's."""
    import contextlib
    import os
    import pickle

    from ray.tune.error import TuneError

    path = getattr(trial, "pickled_error_file", None)
    error: BaseException = TuneError(trial.error_file or "its worker failed")
    if path and os.path.exists(path):
        with open(path, "rb") as file, contextlib.suppress(Exception):
            error = pickle.load(file)
    return unwrapped(error)


def unwrapped(error: BaseException) -> BaseException:
    """The error inside Ray's wrappers (a task's error carries its ``cause``)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    return error
