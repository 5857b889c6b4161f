"""``prodml runs``: list, show and compare runs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, number, when
from prodml.client import default_client
from prodml.domain.run import Run
from prodml.track.compare import Difference

app = typer.Typer(help="Tracked runs: list, show, compare.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _duration(run: Run) -> str:
    seconds = run.duration_s
    return "-" if seconds is None else f"{seconds:.1f}s"


@app.command("list")
def list_runs(
    experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    json: JSON = False,
) -> None:
    """Recent runs with their hypothesis and latest metrics."""
    runs = prodml.list_runs(experiment, limit)
    if json:
        emit_json(runs)
        return
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
    console.print(table if runs else "No runs yet. Start one with prodml.start_run(...).")


@app.command("show")
def show(run_id: str, json: JSON = False) -> None:
    """One run: hypothesis beside results, config, params, inputs, code and outputs."""
    run = prodml.get_run(run_id)
    client = default_client()
    artifacts = client.metadata.list_artifacts("run", run.id)
    models = client.metadata.models_of_run(run.id)
    if json:
        emit_json({"run": run, "artifacts": artifacts, "models": models})
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
    for digest in run.inputs:
        names = ", ".join(v.ref for v in client.metadata.dataset_versions_by_digest(digest))
        console.print(f"  input: {names} [{digest[:12]}]")
    for model in models:
        console.print(f"  model: {model.ref} ({model.flavor})")
    for artifact in artifacts:
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
