"""``prodml runs``: search (list), show and compare runs."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, number, when
from prodml.domain.run import Run, flatten_config
from prodml.sdk.runs import Difference

app = typer.Typer(help="Tracked runs: list, show, compare.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _duration(run: Run) -> str:
    seconds = run.duration_s
    return "-" if seconds is None else f"{seconds:.1f}s"


def _column(run: Run, column: str) -> str:
    """A run's value under a column name such as metrics.auc, config.opt.lr or status."""
    prefix, _, key = column.partition(".")
    sources: dict[str, dict[str, Any]] = {
        "metrics": run.metrics,
        "params": run.params,
        "config": flatten_config(run.config),
        "tags": run.tags,
    }
    found = sources.get(prefix, {})
    if prefix in ("metrics", "params", "config", "tags"):
        return number(found.get(key))
    attributes = {
        "id": run.id[:12],
        "experiment": run.experiment,
        "status": run.status.value,
        "author": run.author,
        "started": when(run.started_at),
        "ended": when(run.ended_at),
        "hypothesis": run.hypothesis or "",
    }
    return attributes.get(column, "-")


def _checked_columns(text: str | None) -> list[str]:
    columns = [c.strip() for c in (text or "").split(",") if c.strip()]
    pattern = re.compile(r"^((metrics|params|config|tags)\.[A-Za-z0-9_.\-/]{1,255}|[a-z]+)$")
    bad = [c for c in columns if not pattern.match(c)]
    if bad or len(columns) > 20:
        raise typer.BadParameter(
            f"Columns {bad or columns} are not valid: give up to 20 of metrics.KEY, params.KEY, "
            "config.KEY, tags.KEY, experiment, status, author, started, ended, hypothesis "
            "separated by commas."
        )
    return columns


@app.command("list")
def list_runs(
    filter: Annotated[
        str,
        typer.Option(
            "--filter",
            "-f",
            help='Which runs, e.g. "metrics.auc > 0.8 and config.depth = 6". Fields: '
            "metrics.KEY params.KEY config.KEY tags.KEY status hypothesis experiment author "
            "started ended; operators = != < <= > >= ~ in (...); and, or, parentheses.",
        ),
    ] = "",
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", "-o", help="Sort key, e.g. metrics.auc (repeatable)."),
    ] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort the first key descending.")] = False,
    experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 50,
    page: Annotated[
        str | None, typer.Option("--page", help="The token printed under the previous page.")
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", "-c", help="Columns to show, e.g. metrics.auc,config.depth"),
    ] = None,
    json: JSON = False,
) -> None:
    """Runs matching a filter, sorted and paged, with their hypothesis and latest metrics."""
    chosen = _checked_columns(columns)
    keys = list(order_by or [])
    if desc and keys and keys[0].split()[-1].lower() not in ("asc", "desc"):
        keys[0] = f"{keys[0]} desc"
    found = prodml.search_runs(filter, keys, limit, page, experiment)
    if json:
        emit_json(found)
        return
    if not found.runs:
        console.print("No runs match." if filter or experiment else _NO_RUNS)
        return
    console.print(_table(found.runs, chosen))
    first = found.offset + 1
    console.print(f"Runs {first:,}-{found.offset + len(found.runs):,} of {found.total:,}.")
    if found.next_page_token:
        console.print(f"Next page: --page {found.next_page_token}")


_NO_RUNS = "No runs yet. Start one with prodml.start_run(...)."


def _table(runs: tuple[Run, ...], columns: list[str]) -> Table:
    if columns:
        table = Table("run", "status", *columns)
        for run in runs:
            table.add_row(run.id[:12], run.status.value, *(_column(run, c) for c in columns))
        return table
    table = Table("run", "experiment", "status", "started", "took", "hypothesis", "metrics")
    for run in runs:
        metrics = ", ".join(f"{k}={number(v)}" for k, v in sorted(run.metrics.items())[:4])
        table.add_row(
            run.id[:12],
            run.experiment,
            run.status.value,
            when(run.started_at),
            _duration(run),
            run.hypothesis or "",
            metrics,
        )
    return table


@app.command("show")
def show(run_id: str, json: JSON = False) -> None:
    """One run: hypothesis beside results, config, params, inputs, code and outputs."""
    details = prodml.run_details(run_id)
    run = details.run
    if json:
        emit_json({"run": run, "artifacts": details.outputs, "models": details.models})
        return
    console.print(
        Text.assemble((f"Run {run.id}", "bold"), f"  {run.experiment}  [{run.status.value}]")
    )
    console.print(f"  author {run.author}, started {when(run.started_at)}, took {_duration(run)}")
    console.print(f"  hypothesis: {run.hypothesis or '-'}")
    if run.error:
        console.print(f"  error: {run.error}", style="red")
    git = run.environment.get("git", {})
    console.print(
        f"  code: {git.get('commit') or 'no git'}"
        f"{' (uncommitted changes)' if git.get('dirty') else ''}"
    )
    results = Table("metric", "value", title="results")
    for key, value in sorted(run.metrics.items()):
        results.add_row(key, number(value))
    settings = Table("config / param", "value", title="config and params")
    for key, setting in sorted(run.config.items()):
        settings.add_row(f"config.{key}", str(setting))
    for key, text in sorted(run.params.items()):
        settings.add_row(key, text)
    console.print(results, settings)
    for key, tag in sorted(run.tags.items()):
        console.print(f"  tag: {key} = {tag}")
    for digest in run.inputs:
        names = ", ".join(v.ref for v in details.inputs if v.id == digest)
        console.print(f"  input: {names} [{digest[:12]}]")
    for model in details.models:
        console.print(f"  model: {model.ref} ({model.flavor})")
    for artifact in details.outputs:
        console.print(f"  artifact: {artifact.name} ({artifact.size:,} bytes) {artifact.id[:12]}")


def _rows(title: str, rows: tuple[Difference, ...], delta: bool = False) -> Table:
    table = Table("name", "A", "B", *(["B - A"] if delta else []), title=title)
    for row in rows:
        extra = [number(row.delta)] if delta else []
        table.add_row(row.name, number(row.left), number(row.right), *extra)
    return table


@app.command("compare")
def compare(left: str, right: str, json: JSON = False) -> None:
    """Config diff, input dataset versions, code state and metrics of runs A and B."""
    result = prodml.compare_runs(left, right)
    if json:
        emit_json(result)
        return
    console.print(f"A = run {result.left.id[:12]}: {result.left.hypothesis or '-'}")
    console.print(f"B = run {result.right.id[:12]}: {result.right.hypothesis or '-'}")
    for title, rows in (
        ("config", result.config),
        ("params", result.params),
        ("inputs", result.inputs),
    ):
        console.print(_rows(title, rows) if rows else f"{title}: same")
    code = result.code
    if code.same:
        console.print(f"code: same (commit {(code.left_commit or '-')[:12]}, {code.left_diff})")
    else:
        console.print(f"code: A commit {(code.left_commit or '-')[:12]}, {code.left_diff}")
        console.print(f"      B commit {(code.right_commit or '-')[:12]}, {code.right_diff}")
    console.print(_rows("metrics", result.metrics, delta=True))
