"""Sweeps: many trials of one pipeline over a search space, chosen by Optuna's
samplers (grid, random, TPE), pruned on an intermediate metric, run by a driver
(processes of this machine, :mod:`prodml.pipelines.pools`; Ray Tune above the core).
The sweep is a run; each trial is a child run of it; the steps no swept key reaches
run once first, as the sweep's base run, and every trial builds on them from the
cache."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prodml.client import Client
from prodml.domain.ids import new_id
from prodml.errors import InvalidInputError, echoed
from prodml.pipelines import plan, runner, space
from prodml.pipelines.config import texts
from prodml.pipelines.space_document import SpaceDocument
from prodml.pipelines.trials import SweepPlan, Trial
from prodml.track.start import start_run

__all__ = ["SweepResult", "Trial", "TrialDriver", "run_sweep"]


class TrialDriver(Protocol):
    """Asks Optuna for up to ``sweep.trials`` trials, ``workers`` at once, runs each
    with :func:`prodml.pipelines.trials.run_trial` and tells Optuna how it ended."""

    name: str
    workers: int

    def drive(self, client: Client, sweep: SweepPlan) -> list[Trial]: ...


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
    driver: TrialDriver,
    overrides: Iterable[str] | str = (),
    name: str | None = None,
    report: Callable[[Trial], None] | None = None,
    accept_leakage: str | None = None,
) -> SweepResult:
    """Run up to ``trials`` trials, as many at once as the driver has workers
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
    space.optuna()  # refused now when missing, not after the base run
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
        sweep = SweepPlan(
            searched=searched,
            trials=trials,
            name=name,
            run_id=sweep_run.id,
            path=str(pipeline.path),
            base=base,
            settings=dataclasses.asdict(client.settings),
            home=str(client.settings.home),
            accept_leakage=accept_leakage,
            report=report,
        )
        finished = driver.drive(client, sweep)
        result = SweepResult(
            name=name,
            run_id=sweep_run.id,
            base_run=base_run,
            objective=searched.objective,
            direction=searched.direction,
            trials=tuple(sorted(finished, key=lambda t: t.number)),
            seconds=time.perf_counter() - started,
            workers=driver.workers,
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
    from prodml.pipelines.config import joined, key_parts

    place: Any = config
    try:
        parts = key_parts(key)
    except ValueError as error:
        raise InvalidInputError(
            f"Search space parameters.{key}: {error}; quote a key that holds a dot whole, "
            'e.g. impute."Solar.R".'
        ) from None
    for depth, part in enumerate(parts):
        where = joined(parts[:depth]) or "the config"
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
