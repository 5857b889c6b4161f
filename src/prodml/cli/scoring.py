"""``prodml score``: a dataset version scored by a model version, kept as a new version."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

import prodml
from prodml.cli.output import console, emit_json, errors


def score(
    model: Annotated[str, typer.Argument(help="MODEL@VERSION or MODEL@alias.", metavar="MODEL@V")],
    dataset: Annotated[
        str, typer.Argument(help="DATASET@VERSION of a table.", metavar="DATASET@V")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Name of the output dataset (default: DATASET-scored-MODEL)."
        ),
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", help="local (this process) or ray.")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Ray cluster: auto, HOST:6379 or ray://HOST:10001 (default: start a local Ray).",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            min=1,
            help="Parts of the table (default: the Ray cluster's CPUs, or 1).",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Score every row of a table version and log the result as a dataset version.

    The output holds the input's columns, `prediction` (null where the model raised or
    a guardrail abstained) and, for a classifier, `proba_<class>` per class. Lineage
    links the model version and the input version to it: prodml lineage OUTPUT@V.
    With --executor ray the parts are Ray tasks; the output is the same version."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task(f"scoring {dataset} with {model}", total=None)

        def progress(done: int, parts: int) -> None:
            bar.update(task, completed=done, total=parts)
            if done == parts:
                bar.update(task, description="logging the output")

        result = prodml.score(
            model,
            dataset,
            name=output,
            executor=executor,
            address=address,
            partitions=partitions,
            progress=progress,
        )
    if json:
        emit_json(result)
        return
    _summary(result)


def _summary(result: Any) -> None:
    out, parts = result.output, result.partitions
    console.print(
        f"{out.ref} [{out.id[:12]}]: {result.rows:,} rows of {result.input.ref} scored by "
        f"{result.model} ({result.executor}, {parts} part{'s' if parts != 1 else ''})"
    )
    console.print(f"  added: {', '.join(result.added)}")
    if result.failed:
        console.print(
            f"  {result.failed:,} rows have no prediction: the model raised on them "
            f"(first: {result.first_error})"
        )
    if result.abstained:
        console.print(f"  {result.abstained:,} rows have no prediction: a guardrail abstained")
    console.print(f"  lineage: prodml lineage {out.ref}")


def register(app: typer.Typer) -> None:
    app.command("score")(score)
