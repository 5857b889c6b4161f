"""Pipelines from config: ``run_pipeline("pipeline.yaml", ["train.max_depth=8"])``
runs the file's steps as one run with a child run per step, reusing every step whose
code, config slice, inputs and packages are unchanged since a run made its outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.sdk.openlineage import follow_settings

if TYPE_CHECKING:
    from prodml.domain.steps import CachedStep
    from prodml.pipelines.outputs import ModelOutput
    from prodml.pipelines.runner import PipelineResult, StepResult


def run_pipeline(
    path: str | Path,
    overrides: Iterable[str] | str = (),
    force: Iterable[str] | str = (),
    report: Callable[[StepResult], None] | None = None,
    client: Client | None = None,
    accept_leakage: str | None = None,
) -> PipelineResult:
    """Run the pipeline file ``path`` with ``overrides`` (``"train.max_depth=8"``,
    ``"+train.new=1"`` to add a key) applied to its config. ``force`` names steps to
    run again although cached (and every step after them that uses their outputs).
    ``report`` is called with each step's result as it finishes. ``accept_leakage`` is
    the reason to train although a step's leakage check found hard problems (recorded
    on the step's run and the checked versions)."""
    from prodml.errors import InvalidInputError
    from prodml.pipelines import plan, runner

    if report is not None and not callable(report):
        raise InvalidInputError(
            f"report is {report!r:.40}; give a function taking each step's result, or None."
        )
    chosen = client or default_client()
    follow_settings(chosen)
    pipeline = plan.load(path, overrides)
    return runner.run_pipeline(
        chosen, pipeline, force, report=report, accept_leakage=accept_leakage
    )


def step_model(model: Any, example: Any = None) -> ModelOutput:
    """Return this from a step to store ``model`` with ``example`` input rows, so its
    version records a signature (a scikit-learn model fitted on a table with named
    columns gets one from the step's first input without it)."""
    from prodml.pipelines.outputs import step_model as wrap

    return wrap(model, example)


def step_cache(
    pipeline: str, step: str | None = None, client: Client | None = None
) -> list[CachedStep]:
    """The cached outputs of a pipeline's steps (or one step), newest first."""
    return list((client or default_client()).metadata.cached_steps(pipeline, step))
