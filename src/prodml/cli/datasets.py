"""``prodml datasets``: log, list, show and diff dataset versions; check a split for leakage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, number, when
from prodml.domain.leakage import LeakageResult
from prodml.domain.validation import FindingKind

app = typer.Typer(help="Dataset versions: log, list, show, diff, checkout.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
KEY = Annotated[list[str] | None, typer.Option("--key", "-k", help="Key column (repeatable).")]
COLUMNS = "comma-separated, e.g. a,b"
STYLE = {FindingKind.HARD: "bold red", FindingKind.SOFT: "yellow", FindingKind.DRIFT: "cyan"}


@app.command("log")
def log(
    name: str,
    path: Path,
    key: KEY = None,
    partition_by: Annotated[
        str | None, typer.Option("--partition-by", help="Also profile each partition.")
    ] = None,
) -> None:
    """Version a table file (Parquet, CSV) or any file or folder."""
    started = datetime.now(UTC) - timedelta(seconds=1)  # stored times may be whole seconds
    columns = [TimeRemainingColumn()]
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        *columns,
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"hashing {escape(path.name)}", total=None)
        version = prodml.log_dataset(
            name,
            path,
            key=key,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            partition_by=partition_by,
        )
    console.print(
        f"{version.ref} [{version.id[:12]}] {version.kind.value}: "
        f"{number(version.num_rows)} rows, {version.num_files} file(s), {version.num_bytes:,} bytes"
    )
    if version.created_at < started:  # the same content was stored before: no new version
        latest = prodml.get_dataset(f"{name}@latest")
        if latest.version == version.version:
            console.print(f"Unchanged: the same content as {version.ref}, the latest.")
        else:
            console.print(
                f"Stored before as {version.ref}: {name}@latest is still {latest.ref}, which "
                f"steps and checks reading {name}@latest keep reading. Name {version.ref} "
                "where you want this content."
            )


@app.command("checkout")
def checkout(ref: str, destination: Path) -> None:
    """Restore every file of a files-kind version into an empty folder."""
    written = prodml.checkout(ref, destination)
    console.print(f"Wrote {len(written)} file(s) of {ref} to {destination}")


@app.command("list")
def list_datasets(name: Annotated[str | None, typer.Argument()] = None, json: JSON = False) -> None:
    """Every dataset version (or every version of NAME)."""
    versions = prodml.list_datasets(name)
    if json:
        emit_json(versions)
        return
    table = Table("dataset", "id", "kind", "rows", "files", "bytes", "created", "by")
    for version in versions:
        table.add_row(
            version.ref,
            version.id[:12],
            version.kind.value,
            number(version.num_rows),
            str(version.num_files),
            f"{version.num_bytes:,}",
            when(version.created_at),
            version.author,
        )
    console.print(table if versions else "No datasets yet. Log one: prodml datasets log NAME PATH")


@app.command("show")
def show(ref: str, json: JSON = False) -> None:
    """One version: schema with per-column summaries, or its files."""
    version = prodml.get_dataset(ref)
    files = prodml.list_dataset_files(version)
    if json:
        emit_json({"version": version, "files": files})
        return
    console.print(Text.assemble((version.ref, "bold"), f" {version.id}"))
    console.print(
        f"  {version.kind.value}, {number(version.num_rows)} rows, {version.num_bytes:,} bytes, "
        f"by {version.author} at {when(version.created_at)}; key: {', '.join(version.key) or '-'}"
    )
    if version.columns:
        table = Table("column", "type", "nulls", "distinct", "min", "max", "mean")
        for c in version.columns:
            table.add_row(
                c.name,
                c.type,
                str(c.nulls),
                number(c.distinct),
                number(c.min),
                number(c.max),
                number(c.mean),
            )
        console.print(table)
    for entry in files[:50]:
        console.print(f"  {entry.path}  {entry.size:,} bytes  {entry.digest[:12]}")
    if len(files) > 50:
        console.print(f"  ... and {len(files) - 50} more files (--json lists all)")


@app.command("diff")
def diff(before: str, after: str, key: KEY = None, json: JSON = False) -> None:
    """Schema changes, row counts, rows added/removed/changed and per-column changes."""
    result = prodml.diff_datasets(before, after, key=key)
    if json:
        emit_json(result)
        return
    console.print(
        Text.assemble(
            (f"{result.before.ref} -> {result.after.ref}", "bold"),
            f" (rows matched by {result.matched_by})",
        )
    )
    console.print(
        f"  rows: {number(result.rows_before)} -> {number(result.rows_after)}; "
        f"added {result.rows_added}, removed {result.rows_removed}, changed {result.rows_changed}"
    )
    for change in result.schema_changes:
        console.print(
            f"  schema: {change.column}: "
            f"{change.before or '(absent)'} -> {change.after or '(absent)'}"
        )
    if result.column_changes:
        table = Table("column", "statistic", "before", "after")
        for c in result.column_changes:
            table.add_row(c.column, c.statistic, number(c.before), number(c.after))
        console.print(table)
    if result.is_empty:
        console.print("  no differences")


@app.command("leakage")
def leakage(
    train: Annotated[str, typer.Argument(help="The training set: NAME@V or a table file.")],
    valid: Annotated[str, typer.Argument(help="The validation set: NAME@V or a table file.")],
    keys: Annotated[
        str | None, typer.Option("--keys", help=f"Key column(s) of a row ({COLUMNS}).")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Dates or timestamps of each row.")
    ] = None,
    known_after_label: Annotated[
        str | None,
        typer.Option(
            "--known-after-label", help=f"Columns known only after the label ({COLUMNS})."
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option("--features", help=f"The training features ({COLUMNS}; default: the rest)."),
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="The label column.")] = None,
    max_overlap: Annotated[
        float | None,
        typer.Option(
            "--max-overlap", help="Share of validation rows whose key may be in training."
        ),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option("--suite", help="A suite file, or a model whose suite declares the rest."),
    ] = None,
    force: Annotated[
        str | None, typer.Option("--force", help="Let hard findings through: say why (recorded).")
    ] = None,
    json: JSON = False,
) -> None:
    """Leakage between a training and a validation set: shared keys, validation rows
    before training's latest time, columns known after the label among the features.

    Exits 1 when a hard finding stands (not forced), 0 otherwise."""
    with console.status(f"Checking {train} against {valid} ..."):
        result = prodml.check_leakage(
            train,
            valid,
            keys=_columns(keys),
            time_column=time_column,
            known_after_label=_columns(known_after_label),
            features=_columns(features),
            suite=suite,
            label=label,
            max_overlap=max_overlap,
            force=force,
        )
    if json:
        emit_json(result.to_dict())
    else:
        _leakage_summary(result)
    if result.refused:
        raise typer.Exit(1)


def _columns(text: str | None) -> list[str] | None:
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def _leakage_summary(result: LeakageResult) -> None:
    verdict = (
        Text("FORCED", "bold yellow")
        if result.blocked and result.forced
        else Text("BLOCKED", "bold red")
        if result.blocked
        else Text("OK", "bold green")
    )
    hard, soft = (len(result.of_kind(kind)) for kind in (FindingKind.HARD, FindingKind.SOFT))
    console.print(
        Text.assemble(
            verdict,
            f"  {result.train} ({number(result.train_rows)} rows) -> {result.valid} "
            f"({number(result.valid_rows)} rows): checked {', '.join(result.checks)} -- "
            f"{hard} hard, {soft} soft",
        )
    )
    if result.findings:
        table = Table("kind", "column", "statistic", "observed", "expected")
        for finding in result.findings:
            table.add_row(
                Text(finding.kind.value, STYLE[finding.kind]),
                finding.column or "(table)",
                finding.statistic,
                number(finding.observed),
                number(finding.expected),
            )
        console.print(table)
    for finding in result.findings:
        console.print(
            Text.assemble((f"{finding.kind.value}: ", STYLE[finding.kind]), finding.message)
        )
    if result.forced:
        console.print(f"Forced: {result.forced}")
    for note in result.notes:
        console.print(Text(f"note: {note}", "dim"))
