"""``prodml valsets``: validation sets that grow from production failures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import prodml
from prodml.cli.output import console, emit_json, when

app = typer.Typer(help="Dynamic validation sets: add rows, see growth.", no_args_is_help=True)


@app.command("add")
def add(
    name: str,
    rows: Annotated[
        Path | None, typer.Argument(help="A .csv or .parquet file of rows with labels.")
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            help="SQL over the prediction log instead of a file, e.g. SELECT unnest(inputs), "
            "label AS late FROM labelled WHERE output <> label",
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Where the rows came from.")
    ] = None,
) -> None:
    """Append rows to validation set NAME as its next version (rows already in it are skipped):
    from a file, or from logged predictions with their labels (--query)."""
    from prodml.errors import InvalidInputError

    if (rows is None) == (query is None):
        raise InvalidInputError("Give the rows as a FILE or as --query SQL (one of the two).")
    data = rows if rows is not None else prodml.query_predictions(str(query))
    origin = source or (f"prediction log: {query}" if query else None)
    version, added = prodml.grow_valset(name, data, origin)
    if added == 0:
        console.print(f"Nothing new: every row is already in {version.ref}.")
    else:
        console.print(f"{version.ref}: {added:,} rows added, {version.num_rows or 0:,} in all.")


@app.command("history")
def history(name: str, json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each version of NAME: rows, rows added and where they came from."""
    growth = prodml.valset_history(name)
    if json:
        emit_json(growth)
        return
    table = Table("version", "when", "by", "rows", "added", "sources of added rows", title=name)
    for step in growth:
        sources = ", ".join(f"{k} ({v:,})" for k, v in step.sources.items())
        table.add_row(
            step.ref,
            when(step.created_at),
            step.author,
            f"{step.rows:,}",
            f"+{step.added:,}",
            sources,
        )
    console.print(table)
