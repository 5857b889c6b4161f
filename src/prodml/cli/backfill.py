"""``prodml backfill``: a metric for every stored version of a model, over time."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, errors, when
from prodml.domain.backfill import Backfill, BackfilledVersion, BackfillStatus
from prodml.domain.evaluation import ALL, Estimate

STYLE = {BackfillStatus.COMPUTED: "", BackfillStatus.STORED: "dim", BackfillStatus.FAILED: "red"}


def backfill(
    metric: Annotated[
        str,
        typer.Argument(
            help="A metric of the model's suite, a built-in (auc, mae...) or module:function.",
            metavar="METRIC",
        ),
    ],
    models: Annotated[
        str, typer.Option("--models", help="The model whose every version is scored.")
    ],
    valset: Annotated[
        str | None,
        typer.Option("--valset", help="NAME@VERSION (default: the suite's first set)."),
    ] = None,
    slices: Annotated[
        list[str] | None,
        typer.Option(
            "--slice",
            help="A slice as a suite writes it, e.g. '{name: long-haul, where: \"distance > "
            "1500\"}' or '{by: carrier}', or NAME: SQL. Repeatable.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Score versions already backfilled again.")
    ] = False,
    label: Annotated[
        str | None, typer.Option("--label", help="The label column (default: the suite's).")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", help="classification or regression (default: the suite's)."),
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="module:function only: table (one number) or row.")
    ] = "table",
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="module:function only: smaller is better.")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Compute METRIC for every stored version of a model on one validation set version,
    without retraining, and show it over time (oldest version first).

    Each version is loaded, answers the set and is scored with a bootstrap interval;
    the result is stored as an evaluation linked to the model version and the dataset
    version. Versions already backfilled with the same metric, set and slices are read
    back (--force scores them again). A version that cannot be loaded or scored gets a
    row saying why; the others are still scored."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,  # piped: no bar, and no blank line before an error
    ) as bar:
        step = bar.add_task(f"backfilling {metric} for {models}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(step, completed=done, total=total)

        result = prodml.backfill_metric(
            metric,
            models,
            valset,
            slices or (),
            force=force,
            label=label,
            task=task,
            kind=kind,
            higher_is_better=False if lower_is_better else None,
            progress=progress,
        )
    if json:
        emit_json(result)
    else:
        _show(result)
    if all(version.status is BackfillStatus.FAILED for version in result.versions):
        errors.print(
            f"No version of {models} has a value of {metric}: each failed, as said above. "
            "Fix what it says, then run the backfill again."
        )
        raise typer.Exit(1)


def _show(result: Backfill) -> None:
    better = "higher" if result.higher_is_better else "lower"
    console.print(
        Text.assemble(
            (f"{result.metric} of {result.model} on {result.valset}", "bold"),
            f"  ({better} is better; {result.confidence:.0%} intervals, "
            f"{result.resamples:,} resamples)",
        )
    )
    sliced = list(result.slices) != [ALL]
    table = Table("version", "created", *(["slice"] if sliced else []), "value", "interval", "")
    for version in result.versions:
        for row in _rows(version, result.slices, sliced):
            table.add_row(*row, style=STYLE[version.status])
    console.print(table)
    for name, where in result.slices.items():
        if name != ALL and where != name:
            console.print(f"  {name}: {where}")
    counts = {status: 0 for status in BackfillStatus}
    for version in result.versions:
        counts[version.status] += 1
    console.print(
        f"{counts[BackfillStatus.COMPUTED]} computed, {counts[BackfillStatus.STORED]} already "
        f"stored, {counts[BackfillStatus.FAILED]} failed"
        + ("" if not counts[BackfillStatus.STORED] else " (--force to score them again)")
    )


def _rows(version: BackfilledVersion, slices: dict[str, str], sliced: bool) -> list[list[str]]:
    head = [version.model, when(version.created_at)]
    if version.status is BackfillStatus.FAILED:
        return [[*head, *([ALL] if sliced else []), "-", "-", f"failed: {version.error}"]]
    rows = []
    for name in slices:
        estimate = version.value(name)
        cells = [_value(estimate), _interval(estimate)] if estimate else ["-", "-"]
        rows.append([*head, *([name] if sliced else []), *cells, _note(version, name)])
        head = ["", ""]
    return rows


def _note(version: BackfilledVersion, slice_name: str) -> str:
    if slice_name != ALL:
        return ""
    found = [f.message for f in version.findings if f.kind != "guardrail"]
    return "; ".join([version.status.value, *found])


def _value(estimate: Estimate) -> str:
    return f"{estimate.value:.4g}" if math.isfinite(estimate.value) else "n/a"


def _interval(estimate: Estimate) -> str:
    if not (math.isfinite(estimate.low) and math.isfinite(estimate.high)):
        return "-"
    return f"[{estimate.low:.4g}, {estimate.high:.4g}]"


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)
