"""``prodml rollout``: start a staged rollout, watch it, judge it, act on it by hand."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, when
from prodml.domain.rollout import Rollout

if TYPE_CHECKING:
    from prodml.sdk.rollouts import Decision, Judgement

app = typer.Typer(help="Staged rollouts: shadow, canary steps, full.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
REASON = Annotated[str | None, typer.Option("--why", help="Why: recorded with the change.")]
COLOURS = {"pass": "green", "fail": "red", "inconclusive": "yellow"}


@app.command("start")
def start(
    name: str,
    version: str,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Rollout plan YAML (default: shadow, 5/25/50%, full)."),
    ] = None,
    why: REASON = None,
    force: Annotated[
        bool, typer.Option("--force", help="Start without a passed offline gate (needs --why).")
    ] = False,
) -> None:
    """Take VERSION of NAME through a plan against the champion (the suite's gate must
    have passed offline: prodml evaluate compare NAME champion VERSION)."""
    rollout = prodml.start_rollout(name, version, plan, why, force)
    steps = " -> ".join(step.label for step in rollout.plan.steps)
    console.print(
        f"Rollout {rollout.id[:12]}: {name} v{rollout.candidate} against champion "
        f"v{rollout.baseline}: {steps}. Now: {rollout.current.label}."
    )


@app.command("status")
def status(name: Annotated[str | None, typer.Argument()] = None, json: JSON = False) -> None:
    """Rollouts, newest first: an active one with each check of its current step, a
    finished one with why it ended beside why it started."""
    shown = prodml.rollout_status(name)
    if json:
        emit_json(
            [
                {"rollout": r, "step": r.current.label, "judgement": j.details() if j else None}
                for r, j in shown
            ]
        )
        return
    if not shown:
        console.print("No rollouts yet. Start one: prodml rollout start NAME VERSION --plan FILE")
        return
    table = Table("rollout", "model", "candidate", "champion", "state", "step", "since")
    for rollout, _ in shown[:20]:
        table.add_row(
            rollout.id[:12], rollout.model, f"v{rollout.candidate}", f"v{rollout.baseline}",
            rollout.state, rollout.current.label, when(rollout.step_started_at),
        )  # fmt: skip
    console.print(table)
    latest = {rollout.model: rollout for rollout, _ in reversed(shown)}
    for rollout in latest.values():
        if not rollout.active:
            print_ending(rollout)
    for _, judgement in shown:
        if judgement is not None:
            print_judgement(judgement)


def print_ending(rollout: Rollout) -> None:
    """Why the latest rollout of a model ended, beside why it started."""
    colour = {"rolled_back": "red", "completed": "green"}.get(rollout.state, "yellow")
    by = f" by {rollout.ended_by}" if rollout.ended_by else ""
    console.print(
        Text.assemble(
            f"{rollout.model} v{rollout.candidate} ({rollout.id[:12]}): ",
            (rollout.state, colour),
            f" at {rollout.current.label}{by}, {when(rollout.updated_at)}",
        )
    )
    console.print(f"  ended:   {rollout.end_reason or '-'}")
    console.print(f"  started: {rollout.reason or '-'}")


def print_judgement(judgement: Judgement) -> None:
    rollout = judgement.rollout
    console.print(
        Text.assemble(
            f"{rollout.model} v{rollout.candidate}, {rollout.current.label}: ",
            (judgement.verdict, COLOURS[judgement.verdict]),
        )
    )
    for check in judgement.checks:
        console.print(
            Text.assemble("  ", (f"{check.verdict:<13}", COLOURS[check.verdict]), check.reason)
        )
    if rollout.step + 1 == len(rollout.plan.steps):
        signed = prodml.approvals(rollout.model, rollout.candidate)
        if signed.missing:
            console.print(
                Text.assemble(
                    "  ",
                    ("awaiting sign-off", "yellow"),
                    f": completes only after approval by {', '.join(signed.missing)}: "
                    f"prodml models approve {rollout.model} {rollout.candidate}",
                )
            )


@app.command("watch")
def watch(
    interval: Annotated[float, typer.Option(help="Seconds between ticks.")] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Judge once and exit.")] = False,
) -> None:
    """Judge every running rollout each tick and act: advance, complete or roll back."""
    if once:
        for decision in prodml.tick_rollouts():
            report(decision)
        return
    console.print(f"Watching rollouts every {interval:g} s (Ctrl-C stops).")
    prodml.watch_rollouts(interval, report=report)


def report(decision: Decision) -> None:
    rollout = decision.rollout
    colour = {"rolled_back": "red", "completed": "green", "advanced": "green"}.get(
        decision.action, "yellow"
    )
    console.print(
        Text.assemble(
            (f"{decision.action:<12}", colour),
            f"{rollout.model} v{rollout.candidate} ({rollout.id[:12]}): {decision.reason}",
        )
    )


def _act(action: str, name: str, why: str | None) -> Rollout:
    rollout = prodml.rollout_action(action, name, why)
    console.print(
        f"Rollout {rollout.id[:12]} of {rollout.model} v{rollout.candidate}: {rollout.state}, "
        f"at {rollout.current.label}."
    )
    return rollout


@app.command("pause")
def pause(name: str, why: REASON = None) -> None:
    """Hold the rollout at its step (traffic unchanged)."""
    _act("pause", name, why)


@app.command("resume")
def resume(name: str, why: REASON = None) -> None:
    """Resume a paused rollout; its step's evidence starts afresh."""
    _act("resume", name, why)


@app.command("abort")
def abort(name: str, why: REASON = None) -> None:
    """Stop the rollout: every request goes back to the champion."""
    _act("abort", name, why)


@app.command("promote")
def promote(name: str, why: REASON = None) -> None:
    """Make the candidate champion now, skipping the remaining steps (needs --why)."""
    _act("promote", name, why)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command("compare")
def compare(
    name: str,
    metric: Annotated[str | None, typer.Option(help="accuracy, error_rate, mae, rmse, mse")] = None,
    json: JSON = False,
) -> None:
    """Candidate and champion on the same logged requests, per slice of the suite."""
    rollout, slices = prodml.compare_rollout(name, metric)
    if json:
        emit_json({"rollout": rollout.id, "slices": slices})
        return
    table = Table("slice", "pairs", "agree", "labels", "metric", "champion", "candidate", "drop")
    for row in slices:
        drop = row.drop
        shown = "-" if drop is None else f"{_f(drop.value)} [{_f(drop.low)}, {_f(drop.high)}]"
        agree = "-" if row.agreement is None else f"{row.agreement:.1%}"
        table.add_row(
            row.slice, f"{row.pairs:,}", agree, f"{row.labels:,}", row.metric or "-",
            _f(row.baseline), _f(row.candidate), shown,
        )  # fmt: skip
    console.print(
        f"Rollout {rollout.id[:12]}: {rollout.model} v{rollout.candidate} (candidate) "
        f"vs v{rollout.baseline} (champion)"
    )
    console.print(table)
