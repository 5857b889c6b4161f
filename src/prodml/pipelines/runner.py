"""Running a pipeline: one run, and a child run per step. A step whose key was cached
before is not run; its outputs are reused, and its child run records where from. A
step that fails ends its run and the pipeline's as failed and caches nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prodml.client import Client
from prodml.data.refs import get_dataset
from prodml.domain.dataset import DatasetVersion
from prodml.domain.ids import utcnow
from prodml.domain.steps import CachedStep, OutputKind, StepOutput
from prodml.errors import InvalidInputError, ProdmlError, StepFailedError
from prodml.pipelines import randomness
from prodml.pipelines.config import seeded, texts
from prodml.pipelines.inputs import resolved
from prodml.pipelines.keys import step_key
from prodml.pipelines.plan import Pipeline, Step, arguments
from prodml.track.run import ActiveRun
from prodml.track.start import start_run

Report = Callable[["StepResult"], None]


@dataclass(frozen=True, kw_only=True)
class StepResult:
    name: str
    run_id: str
    key: str
    cached: bool  # its outputs were reused, it did not run
    seconds: float  # how long it took now (a cached step: the lookup)
    outputs: tuple[StepOutput, ...]
    warnings: tuple[str, ...] = ()
    reused_from: str | None = None  # the run that made the reused outputs
    pruned: bool = False


class Pruned(Exception):
    """Raised by a watcher of a step's metrics to stop the step and the pipeline."""


Watch = Callable[[str, float, int | None], None]  # a metric as a step logs it


class _Watched:
    """The run a step is given, telling ``watch`` each metric it logs."""

    def __init__(self, run: ActiveRun, watch: Watch) -> None:
        self._run, self._watch = run, watch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        self._run.log_metric(key, value, step)
        self._watch(key, float(value), step)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self._run.log_metrics(metrics, step)
        for key, value in metrics.items():
            self._watch(key, float(value), step)


@dataclass(frozen=True, kw_only=True)
class PipelineResult:
    run_id: str
    pipeline: str
    steps: tuple[StepResult, ...]
    metrics: dict[str, float] = field(default_factory=dict)
    pruned: bool = False  # a sweep's pruner stopped it after its last step

    @property
    def ran(self) -> list[str]:
        return [s.name for s in self.steps if not s.cached]

    @property
    def warnings(self) -> list[str]:
        return [w for s in self.steps for w in s.warnings]


class _Produced:
    """Each finished step's outputs, read from the store only when a step needs them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.records: dict[str, dict[str, StepOutput]] = {}
        self.values: dict[tuple[str, str], Any] = {}

    def record(self, step: str, stored: Collection[StepOutput], values: Mapping[str, Any]) -> None:
        self.records[step] = {o.name: o for o in stored}
        self.values.update({(step, name): value for name, value in values.items()})

    def output(self, source: str) -> StepOutput:
        step, _, name = source.partition(".")
        found = self.records[step]
        if name in found:
            return found[name]
        if not name and len(found) == 1:
            return next(iter(found.values()))
        choices = ", ".join(f"{step}.{n}" if n else step for n in found) or "none"
        raise InvalidInputError(
            f"Step {step!r} has no output {source!r}; its outputs: {choices}. Name one of "
            "them in the inputs of the pipeline file."
        )

    def value(self, source: str) -> Any:
        from prodml.pipelines import outputs

        stored = self.output(source)
        step = source.partition(".")[0]
        if (step, stored.name) not in self.values:
            self.values[(step, stored.name)] = outputs.load(self.client, stored)
        return self.values[(step, stored.name)]


def run_pipeline(
    client: Client,
    pipeline: Pipeline,
    force: Iterable[str] | str = (),
    parent: ActiveRun | str | None = None,
    tags: Mapping[str, str] | None = None,
    report: Report | None = None,
    only: Collection[str] | None = None,
    watch: Watch | None = None,
    accept_leakage: str | None = None,
) -> PipelineResult:
    """Run ``pipeline``; ``force`` names steps to run again (with what depends on them)
    even when cached; ``parent`` is a sweep's run when this is one of its trials;
    ``only`` runs those steps (and none after them); ``watch`` sees each metric a step
    logs through its run and may raise :class:`Pruned` to stop the pipeline there;
    ``accept_leakage`` is the reason to train although a leakage check found hard
    problems (recorded)."""
    check_accept_reason(accept_leakage)
    forced = pipeline.downstream(texts(force, "force", pipeline.steps[0].name))
    steps = [s for s in pipeline.steps if only is None or s.name in only]
    datasets = resolved(client, pipeline)
    produced = _Produced(client)
    results: list[StepResult] = []
    marks = {"prodml.pipeline": pipeline.name, **(tags or {})}
    with start_run(
        client,
        pipeline.name,
        pipeline.config,
        parent=parent,
        tags=marks,
        inputs=list(datasets.values()),
    ) as run:
        builds_on: str | None = None
        for step in steps:
            result = _one_step(
                client,
                pipeline,
                step,
                run,
                datasets,
                produced,
                step.name in forced,
                watch,
                accept_leakage,
            )
            results.append(result)
            builds_on = builds_on or result.reused_from
            if report is not None:
                report(result)
            if result.pruned:
                client.metadata.set_run_tags(run.id, {"prodml.pruned": step.name})
                break
        metrics = {
            k: v
            for r in results
            for o in r.outputs
            if o.kind is OutputKind.METRICS
            for k, v in o.value.items()
        }
        if metrics:
            run.log_metrics(metrics)
        if builds_on is not None:  # known only now: the first step reused tells
            client.metadata.set_run_tags(
                run.id, {"prodml.builds_on": builds_on}, [(("run", builds_on), "builds_on")]
            )
    pruned = bool(results) and results[-1].pruned
    return PipelineResult(
        run_id=run.id, pipeline=pipeline.name, steps=tuple(results), metrics=metrics, pruned=pruned
    )


def check_accept_reason(accept: str | None) -> None:
    """A reason to accept leakage says something; checked before any step runs."""
    if accept is not None and (not isinstance(accept, str) or not accept.strip()):
        raise InvalidInputError(
            "--accept-leakage (accept_leakage) needs a reason: say why training may use these sets."
        )


def _one_step(
    client: Client,
    pipeline: Pipeline,
    step: Step,
    parent: ActiveRun,
    datasets: Mapping[str, DatasetVersion],
    produced: _Produced,
    forced: bool,
    watch: Watch | None = None,
    accept_leakage: str | None = None,
) -> StepResult:
    started = time.perf_counter()
    digests = {
        argument: datasets[source].id if "@" in source else produced.output(source).digest
        for argument, source in step.inputs.items()
    }
    key = step_key(pipeline.name, step, digests)
    earlier = client.metadata.cached_step(key) if step.cache else None
    if earlier is not None and not forced:
        return _reuse(client, pipeline, step, parent, key, earlier, produced, started)
    # imported only for a step that runs: a cached run loads neither Arrow nor NumPy
    from prodml.pipelines import leakage_step, outputs

    inputs = [datasets[s] for s in step.inputs.values() if "@" in s]
    inputs += [
        get_dataset(client, f"{o.ref.partition('@')[0]}@{o.id}")
        for o in (produced.output(s) for s in step.inputs.values() if "@" not in s)
        if o.kind is OutputKind.DATASET
    ]
    tags = {"prodml.step": step.name, "prodml.step.key": key, "prodml.step.cached": "false"}
    with start_run(
        client, pipeline.name, step.config, parent=parent, inputs=inputs, tags=tags
    ) as run:
        values = {
            argument: outputs.as_argument(
                datasets_table(client, datasets[source])
                if "@" in source
                else produced.value(source),
                step.qualified.get(argument, ""),
            )
            for argument, source in step.inputs.items()
        }
        leaks = leakage_step.check(client, step, values, run.id, accept_leakage)
        given = _Watched(run, watch) if watch is not None else run
        with randomness.watch() as draws:
            try:
                returned = _call(step, arguments(step, values, given))
            except Pruned:
                client.metadata.set_run_tags(run.id, {"prodml.pruned": "true"})
                returned, pruned = None, True
            else:
                pruned = False
        warnings = leaks + _unseeded(step, draws)
        first_table = next(iter(values.values()), None)
        named = outputs.named(returned)
        names = (pipeline.name, step.name, step.model)
        stored = outputs.store_all(client, run, names, named, first_table)
        if len(warnings) > len(leaks):
            client.metadata.set_run_tags(run.id, {"prodml.step.unseeded": "true"})
    if pruned:
        return StepResult(
            name=step.name,
            run_id=run.id,
            key=key,
            cached=False,
            seconds=time.perf_counter() - started,
            outputs=(),
            pruned=True,
        )
    seconds = time.perf_counter() - started
    produced.record(step.name, stored, {n: outputs.handed_on(v) for n, v in named.items()})
    if step.cache:
        _keep(client, pipeline, step, key, run.id, stored, seconds, earlier)
    return StepResult(
        name=step.name,
        run_id=run.id,
        key=key,
        cached=False,
        seconds=seconds,
        outputs=stored,
        warnings=warnings,
    )


def datasets_table(client: Client, version: DatasetVersion) -> Any:
    from prodml.data import stored_tables

    return stored_tables.load_table(client, version)


def _call(step: Step, given: dict[str, Any]) -> Any:
    try:
        return step.function()(**given)
    except (ProdmlError, Pruned):
        raise
    except (Exception, SystemExit) as error:  # sys.exit() in a step ends the step only
        raise StepFailedError(
            f"Step {step.name!r} ({step.target}) failed: {type(error).__name__}: {error}. "
            "Nothing it made is cached; fix it and run the pipeline again (steps before "
            "it are reused)."
        ) from error


def _unseeded(step: Step, draws: randomness.Draws) -> tuple[str, ...]:
    if draws.entropy:
        return (
            f"Step {step.name!r} made a NumPy random generator without a seed "
            "(numpy.random.default_rng() with no argument): its outputs "
            "change from run to run and its cache hides that. Pass a seed from its config "
            "to it (add seed: N to the step's config, then default_rng(seed)).",
        )
    if draws.global_draw and not seeded(step.config):
        return (
            f"Step {step.name!r} drew random numbers but its config slice sets no seed: "
            "its outputs change from run to run and its cache hides that. Add seed: N to "
            "its config and pass it to what draws (random_state=seed).",
        )
    return ()


def _reuse(
    client: Client,
    pipeline: Pipeline,
    step: Step,
    parent: ActiveRun,
    key: str,
    earlier: CachedStep,
    produced: _Produced,
    started: float,
) -> StepResult:
    tags = {
        "prodml.step": step.name,
        "prodml.step.key": key,
        "prodml.step.cached": "true",
        "prodml.step.reused_from": earlier.run_id,
    }
    with start_run(
        client, pipeline.name, step.config, parent=parent, builds_on=earlier.run_id, tags=tags
    ) as run:
        for output in earlier.outputs:
            if output.kind is OutputKind.METRICS:
                run.log_metrics(output.value)
    produced.record(step.name, earlier.outputs, {})
    warnings = (
        (
            f"Step {step.name!r} is marked nondeterministic: the same key once gave other "
            "outputs; the reused ones are one of them.",
        )
        if earlier.nondeterministic
        else ()
    )
    return StepResult(
        name=step.name,
        run_id=run.id,
        key=key,
        cached=True,
        seconds=time.perf_counter() - started,
        outputs=earlier.outputs,
        warnings=warnings,
        reused_from=earlier.run_id,
    )


def _keep(
    client: Client,
    pipeline: Pipeline,
    step: Step,
    key: str,
    run_id: str,
    stored: tuple[StepOutput, ...],
    seconds: float,
    earlier: CachedStep | None,
) -> None:
    entry = CachedStep(
        key=key, pipeline=pipeline.name, step=step.name, run_id=run_id, outputs=stored,
        seconds=seconds, created_at=utcnow(),
    )  # fmt: skip
    if earlier is None:
        client.metadata.cache_step(entry)
        return
    before = {o.name: o.digest for o in earlier.outputs}
    now = {o.name: o.digest for o in stored}
    if before != now:
        client.metadata.cache_step(entry, replace=True)  # the next run reuses these
        client.metadata.flag_nondeterministic(
            key,
            {
                "step": step.name,
                "pipeline": pipeline.name,
                "runs": [earlier.run_id, run_id],
                "outputs": sorted(n for n in now if before.get(n) != now[n]),
            },
        )
