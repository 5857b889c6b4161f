"""``prodml run PIPELINE.yaml``: a pipeline's steps, reusing what is cached."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, errors


def run(
    path: Annotated[str, typer.Argument(help="The pipeline file (YAML).", metavar="PIPELINE")],
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="Override the config: KEY=VALUE (train.max_depth=8); +KEY=VALUE adds a key.",
        ),
    ] = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="Run STEP again though cached, and the steps after it."),
    ] = None,
    accept_leakage: Annotated[
        str | None,
        typer.Option(
            "--accept-leakage",
            metavar="WHY",
            help="Train although a step's leakage check found hard problems; the reason is "
            "recorded on the step's run.",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Run a pipeline as one run with a child run per step.

    A step whose code (its function, the project modules it imports), config slice,
    inputs and named packages are unchanged since a run made its outputs is not run:
    its outputs are reused and the reuse is recorded."""

    def report(step: Any) -> None:
        if not json:
            how = "cached" if step.cached else "ran"
            made = ", ".join(o.ref for o in step.outputs) or "no output"
            errors.print(f"  {step.name:<16} {how:<7} {step.seconds:7.2f} s  {made}")
            for warning in step.warnings:
                errors.print(Text.assemble("  ", ("warning:", "yellow"), f" {warning}"))

    result = prodml.run_pipeline(
        path, settings or [], force or [], report=report, accept_leakage=accept_leakage
    )
    if json:
        emit_json(result)
        return
    console.print(f"run {result.run_id[:12]} of {result.pipeline}: {_what_ran(result.steps)}")
    if result.metrics:
        shown = ", ".join(f"{k}={v:.6g}" for k, v in sorted(result.metrics.items()))
        console.print(f"  metrics: {shown}")
    console.print(f"  details: prodml runs show {result.run_id[:12]}")


def _what_ran(steps: Sequence[Any]) -> str:
    """Which steps ran and which were reused, e.g. "2 of 5 steps ran (train, evaluate),
    3 reused (load, clean, features)"."""
    ran = [s.name for s in steps if not s.cached]
    reused = [s.name for s in steps if s.cached]
    every = "its one step" if len(steps) == 1 else f"all {len(steps)} steps"
    if not steps:
        return "no step ran"
    if not reused:
        return f"{every} ran ({', '.join(ran)})"
    if not ran:
        return f"nothing ran, {every} reused from the cache"
    return (
        f"{len(ran)} of {len(steps)} steps ran ({', '.join(ran)}), "
        f"{len(reused)} reused ({', '.join(reused)})"
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run)
