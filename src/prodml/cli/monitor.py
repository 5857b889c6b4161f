"""``prodml monitor``, ``prodml alerts`` and ``prodml changes``."""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

import prodml
from prodml.cli.output import console, emit_json, number, when
from prodml.domain.monitoring import Alert
from prodml.errors import InvalidInputError
from prodml.times import parse, span

if TYPE_CHECKING:
    from prodml.sdk.monitoring import Outcome

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
monitor = typer.Typer(help="Monitors over the prediction log.", no_args_is_help=True)
alerts = typer.Typer(help="Alerts: list, show, ack, ignore, precision.", no_args_is_help=True)


@monitor.command("set")
def set_monitor(
    name: str, spec: Annotated[Path | None, typer.Argument(help="YAML spec.")] = None
) -> None:
    """Declare the monitor of model NAME (window, history, labels, SLOs) from SPEC."""
    declared = prodml.set_monitor(name, spec)
    slos = ", ".join(f"{s.name} ({s.objective})" for s in declared.slos) or "none"
    console.print(
        f"Monitor of {name!r}: {span(declared.window)} windows, judged against up to "
        f"{declared.history} past ones; labels judged {span(declared.labels.wait)} after "
        f"a window closes; SLOs: {slos}."
    )


@monitor.command("run")
def run(
    name: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None,
    json: JSON = False,
) -> None:
    """Evaluate every window that has closed since the last run, once."""
    _show(prodml.run_monitors(name), json)


@monitor.command("serve")
def serve(
    name: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None,
    every: Annotated[float, typer.Option(help="Seconds between runs.")] = 60.0,
    compact_every: Annotated[
        float,
        typer.Option(help="Seconds between compactions of the prediction log (0: never)."),
    ] = 600.0,
) -> None:
    """Run the monitors on a schedule until interrupted, and compact the prediction log.
    Start one on each of several hosts: one runs them at a time, and another takes over
    when it stops."""
    if every <= 0:
        raise InvalidInputError("--every must be a positive number of seconds, e.g. 60.")
    if compact_every < 0:
        raise InvalidInputError("--compact-every must be 0 (never) or a number of seconds.")
    console.print(f"Monitoring {name or 'every model with a monitor'} every {every:g} s.")
    prodml.serve_monitors(
        name, every, report=lambda found: _show(found, False, quiet=True),
        compact_every=compact_every or None,
    )  # fmt: skip


def _show(outcomes: list[Outcome], json: bool, quiet: bool = False) -> None:
    if json:
        emit_json(outcomes)
        return
    for o in outcomes:
        if quiet and not o.signals and not o.notes:
            continue
        start = when(datetime.fromtimestamp(o.start).astimezone())
        verdict = (
            f"{'NEW ALERT' if o.new else 'repeat of alert'} {o.alert.id[:8]}: {o.alert.title}"
            if o.alert
            else "normal"
        )
        console.print(f"{o.model} {o.kind} window {start}: {o.rows:,} rows, {verdict}")
        for note in o.notes:
            console.print(f"    note: {note}")
    if not outcomes and not quiet:
        console.print("No window was due: each is judged once it closes.")
    raised = sum(1 for o in outcomes if o.new)
    if outcomes and not quiet:
        console.print(f"{len(outcomes)} window(s) evaluated, {raised} new alert(s).")


@alerts.command("list")
def list_alerts(
    name: Annotated[str | None, typer.Argument(help="One model.")] = None,
    state: Annotated[str | None, typer.Option(help="open, acked or ignored.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time or 24h, 7d...")] = None,
    json: JSON = False,
) -> None:
    found = prodml.list_alerts(name, state, parse(since, "--since") if since else None)
    if json:
        emit_json([a.to_dict() for a in found])
        return
    table = Table("id", "model", "class", "severity", "windows", "from", "state", "title")
    for a in found:
        table.add_row(a.id[:8], a.model, a.kind.value, a.severity, str(a.windows),
                      when(a.window_start), a.state.value, a.title)  # fmt: skip
    console.print(table)


@alerts.command("show")
def show(alert_id: str, json: JSON = False) -> None:
    alert = prodml.get_alert(alert_id)
    if json:
        emit_json(alert.to_dict())
        return
    print_alert(alert)


def print_alert(alert: Alert) -> None:
    console.print(f"Alert {alert.id[:8]} on {alert.model}: {alert.title}")
    console.print(
        f"  {alert.severity} {alert.kind.value}, {alert.state.value}; {alert.windows} window(s) "
        f"{when(alert.window_start)} to {when(alert.window_end)}"
    )
    console.print(f"  default action: {alert.action}")
    for signal in alert.signals[:8]:
        console.print(f"  - [{signal.monitor}] {signal.message}")
    context = alert.context
    served = ", ".join(
        f"v{v['version']} ({v['rows']:,} rows)" for v in context.get("versions_served", [])
    )
    console.print(f"  served: {served or '-'}")
    for change in context.get("changes", [])[-8:]:
        reason = (change["reason"] or "").split(";")[0][:90]
        console.print(f"  changed {change['at'][:19]}: {change['action']} {reason}")
    samples = context.get("samples", {})
    if samples.get("query"):
        # names in the query come from requests: quoted for the shell, not read as markup
        command = f"prodml predictions query {shlex.quote(samples['query'])}"
        console.print(f"  sample rows: {command}", markup=False, highlight=False)
    if alert.why:
        console.print(f"  marked {alert.state.value} by {alert.decided_by}: {alert.why}")


@alerts.command("ack")
def ack(
    alert_id: str, why: Annotated[str | None, typer.Option(help="What was done.")] = None
) -> None:
    """Mark an alert acted on."""
    alert = prodml.ack_alert(alert_id, why or "")
    console.print(f"Alert {alert.id[:8]} marked acted on.")


@alerts.command("ignore")
def ignore(
    alert_id: str, why: Annotated[str | None, typer.Option(help="Why it was noise.")] = None
) -> None:
    """Mark an alert not worth it; its windows become normal history for the monitor."""
    alert = prodml.ignore_alert(alert_id, why or "")
    console.print(f"Alert {alert.id[:8]} ignored; the monitor now counts its windows as normal.")


@alerts.command("precision")
def precision(
    name: Annotated[str | None, typer.Argument(help="One model.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time or 30d...")] = None,
    json: JSON = False,
) -> None:
    """Per monitor: alerts fired, acted on, ignored; which to retune."""
    rows = prodml.alert_precision(name, parse(since, "--since") if since else None)
    if json:
        emit_json(rows)
        return
    table = Table("model", "monitor", "fired", "acked", "ignored", "undecided", "precision")
    for r in rows:
        table.add_row(r.model, r.monitor, str(r.fired), str(r.acked), str(r.ignored),
                      str(r.undecided), number(r.precision))  # fmt: skip
    console.print(table)
    for r in rows:
        if r.suggestion:
            console.print(f"{r.model} {r.monitor}: {r.suggestion}")


def changes(
    since: Annotated[str, typer.Option(help="ISO time, yesterday, or 24h, 7d...")] = "1d",
    name: Annotated[str | None, typer.Option("--model", help="One model.")] = None,
    json: JSON = False,
) -> None:
    """What changed since a time: versions, rollouts, datasets, monitors, alerts."""
    found = prodml.changes(parse(since, "--since"), None, name)
    if json:
        emit_json(found)
        return
    table = Table("at", "change", "model", "by", "what")
    for c in found:
        what = c["reason"] or ", ".join(f"{k}={v}" for k, v in list(c["details"].items())[:4])
        table.add_row(c["at"][:19], c["action"], c["model"] or "-", c["actor"], str(what))
    console.print(table)
    if not found:
        console.print("Nothing changed in that time.")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor, name="monitor")
    app.add_typer(alerts, name="alerts")
    app.command("changes")(changes)
