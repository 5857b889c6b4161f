"""``prodml incidents``: open, list, show, respond, close, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

import prodml
from prodml.cli.monitor import print_alert
from prodml.cli.output import console, emit_json, when
from prodml.times import parse

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
WHY = Annotated[str | None, typer.Option(help="Why; recorded on the incident.")]
incidents = typer.Typer(help="Incidents and the responses to them.", no_args_is_help=True)


@incidents.command("open")
def open_incident(
    alert: Annotated[list[str] | None, typer.Option(help="Alert id (repeatable).")] = None,
    model: Annotated[str | None, typer.Option(help="Model, when no alert names it.")] = None,
    title: Annotated[str | None, typer.Option(help="Default: the first alert's title.")] = None,
) -> None:
    incident = prodml.open_incident(alert or [], model, title)
    console.print(f"Incident {incident.id[:8]} opened on {incident.model}: {incident.title}")


@incidents.command("list")
def list_incidents(
    model: Annotated[str | None, typer.Option(help="One model.")] = None,
    state: Annotated[str | None, typer.Option(help="open or closed.")] = None,
    json: JSON = False,
) -> None:
    found = prodml.list_incidents(model, state)
    if json:
        emit_json([i.to_dict() for i in found])
        return
    table = Table("id", "model", "state", "opened", "by", "alerts", "title")
    for i in found:
        table.add_row(i.id[:8], i.model, i.state, when(i.opened_at), i.opened_by,
                      str(len(i.alert_ids)), i.title)  # fmt: skip
    console.print(table)


@incidents.command("show")
def show(incident_id: str, json: JSON = False) -> None:
    """The incident, its alerts with their context, and its timeline."""
    found = prodml.get_incident(incident_id)
    if json:
        emit_json(found)
        return
    incident = found["incident"]
    console.print(f"Incident {incident.id[:8]} on {incident.model}: {incident.title}")
    console.print(f"  {incident.state}; opened {when(incident.opened_at)} by {incident.opened_by}")
    if incident.resolution:
        console.print(f"  closed {when(incident.closed_at)}: {incident.resolution}")
    for alert in found["alerts"]:
        print_alert(alert)
    table = Table("at", "what", "by", "detail", title="Timeline")
    for m in found["timeline"]:
        table.add_row(when(m.at), m.what, m.actor, m.text)
    console.print(table)


def _respond(incident_id: str, action: str, why: str | None, **options: Any) -> None:
    console.print(prodml.respond_to_incident(incident_id, action, why, None, **options))


@incidents.command("rollback")
def rollback(incident_id: str, why: WHY = None) -> None:
    """Roll the model back (end its rollout, or champion to the version before)."""
    _respond(incident_id, "rollback", why)


@incidents.command("fallback")
def fallback(
    incident_id: str,
    to: Annotated[int | None, typer.Option(help="Version (default: the fallback alias).")] = None,
    why: WHY = None,
) -> None:
    """Serve the fallback model (the version under the fallback alias) as champion."""
    _respond(incident_id, "fallback", why, to=to)


@incidents.command("retrain")
def retrain(
    incident_id: str,
    command: Annotated[str, typer.Option(help="The training command line.")],
    why: WHY = None,
) -> None:
    """Run the training command (PRODML_INCIDENT is set for it) and record the result."""
    _respond(incident_id, "retrain", why, command=command)


@incidents.command("add-failures")
def add_failures(
    incident_id: str,
    valset: Annotated[str, typer.Option(help="Validation set to grow.")],
    label_as: Annotated[str, typer.Option(help="The set's label column.")],
    where: Annotated[str | None, typer.Option(help="SQL for failing (default: wrong).")] = None,
    why: WHY = None,
) -> None:
    """Add the incident's wrong, labelled predictions to a validation set."""
    _respond(incident_id, "add-failures", why, valset=valset, label_as=label_as, where=where)


@incidents.command("close")
def close(incident_id: str, why: WHY = None) -> None:
    incident = prodml.close_incident(incident_id, why or "")
    console.print(f"Incident {incident.id[:8]} closed: {incident.resolution}")


@incidents.command("report")
def report(
    incident_id: Annotated[list[str] | None, typer.Argument(help="Incidents.")] = None,
    since: Annotated[str | None, typer.Option(help="Shift start: ISO time, 12h...")] = None,
    format: Annotated[str, typer.Option(help="markdown or html.")] = "markdown",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File.")] = None,
) -> None:
    """Write the incident report (e.g. at the end of an on-call shift)."""
    start = parse(since, "--since") if since else None
    text = prodml.incident_report(incident_id or [], start, format, output)
    if output is None:
        console.print(text)
    else:
        console.print(f"Report written to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(incidents, name="incidents")
