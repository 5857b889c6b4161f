"""``prodml datasets``: log, list, show and diff dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, number, when

app = typer.Typer(help="Dataset versions: log, list, show, diff, checkout.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
KEY = Annotated[list[str] | None, typer.Option("--key", "-k", help="Key column (repeatable).")]


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
