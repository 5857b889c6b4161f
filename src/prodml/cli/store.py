"""Store-wide commands: init, lineage, events and gc."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from rich.tree import Tree

import prodml
from prodml.cli.output import console, emit_json, errors, when
from prodml.domain.lineage import LineageTree
from prodml.errors import InvalidInputError
from prodml.sdk import store
from prodml.times import parse

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TIME_HELP = "ISO time, now, or a span back such as 30m, 1h, 7d."


def init() -> None:
    """Create the store (or check an existing one) and say where it is."""
    info = store.init_store()
    console.print(f"metadata: {info.database}")
    console.print(f"blobs:    {info.blobs}")


def _branch(tree: Tree, node: LineageTree) -> None:
    for child in node.children:
        label = Text.assemble((child.relation or "", "dim"), f" {child.node.label}")
        _branch(tree.add(label), child)


def lineage(
    ref: Annotated[
        str,
        typer.Argument(
            help="A run id, NAME@VERSION, MODEL@alias (e.g. churn@champion), or export."
        ),
    ],
    upstream: Annotated[bool, typer.Option("--upstream/--downstream", help="Direction.")] = True,
    as_of: Annotated[str | None, typer.Option("--as-of", help=TIME_HELP)] = None,
    json: JSON = False,
    openlineage: Annotated[
        bool, typer.Option("--openlineage", help="export: as OpenLineage events (NDJSON).")
    ] = False,
    since: Annotated[str | None, typer.Option("--since", help=f"export: {TIME_HELP}")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="export: file (default stdout).")
    ] = None,
) -> None:
    """What produced REF (upstream, default) or what REF fed (downstream);
    `lineage export --openlineage` writes the store's OpenLineage events."""
    if ref == "export":
        _export(openlineage, since, output)
        return
    moment = parse(as_of, "--as-of") if as_of else None
    walk = prodml.upstream if upstream else prodml.downstream
    result = walk(ref, as_of=moment)
    if json:
        emit_json(result)
        return
    tree = Tree(Text(result.node.label, style="bold"))
    _branch(tree, result)
    console.print(tree)


def _export(openlineage: bool, since: str | None, output: Path | None) -> None:
    if not openlineage:
        raise InvalidInputError(
            "Say the format to export: prodml lineage export --openlineage [--output FILE]."
        )
    counts = prodml.export_openlineage(output, since=parse(since, "--since") if since else None)
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())) or "none"
    where = output if output is not None else "stdout"
    errors.print(f"Wrote {sum(counts.values())} OpenLineage events to {where}: {kinds}.")


def events(
    since: Annotated[str | None, typer.Option("--since", help=TIME_HELP)] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only actions starting so, e.g. rollout.")
    ] = None,
    json: JSON = False,
) -> None:
    """The append-only log of state changes: who, when, what and why."""
    found = prodml.events(since=parse(since, "--since") if since else None, action=action)
    if json:
        emit_json(found)
        return
    for event in found:
        named = _named(event.details)
        reason = f" - {event.reason}" if event.reason else ""
        console.print(
            f"{when(event.at)}  {event.actor}  {event.action} "
            f"{event.subject_kind} {event.subject_id[:12]}{named}{reason}"
        )


def _named(details: dict[str, Any]) -> str:
    """What an event is about, in the words a person uses: ``churn@3``, an alias move."""
    if "alias" in details and "name" in details:
        before = f"v{details['from']}" if details.get("from") else "-"
        after = f"v{details['to']}" if details.get("to") else "removed"
        return f" {details['name']}@{details['alias']} {before} -> {after}"
    if "name" in details and "version" in details:
        return f" {details['name']}@{details['version']}"
    if "ref" in details:
        return f" {details['ref']}"
    if "version" in details:
        return f" version {details['version']}"
    return ""


def gc(
    yes: Annotated[bool, typer.Option("--yes", help="Delete (default is a dry run).")] = False,
    grace: Annotated[
        float | None,
        typer.Option(help="Keep unreferenced blobs younger than this (s; default an hour)."),
    ] = None,
) -> None:
    """Delete blobs that no stored object refers to (dry run unless --yes)."""
    report = store.collect_garbage(delete=yes, grace=grace)
    verb = "Deleted" if yes else "Would delete"
    young = "an hour" if grace is None else f"{grace:.0f}s"
    console.print(
        f"{verb} {len(report.unreferenced)} unreferenced blob(s), {report.bytes:,} bytes; "
        f"kept {report.referenced} referenced and {report.kept_young} younger than {young}."
    )
    if not yes and report.unreferenced:
        console.print("Run again with --yes to delete them.")


def register(app: typer.Typer) -> None:
    for command in (init, lineage, events, gc):
        app.command()(command)
