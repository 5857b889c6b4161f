"""``prodml models``: versions, aliases, protection, tags, guardrails and promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, when
from prodml.errors import InvalidInputError
from prodml.times import parse

app = typer.Typer(help="The model registry: versions, aliases, promotion.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
REASON = Annotated[str | None, typer.Option("--why", help="Why: recorded with the change.")]


@app.command("list")
def list_models(json: JSON = False) -> None:
    """Every model name with its version count and aliases."""
    models = prodml.list_models()
    if json:
        emit_json(models)
        return
    table = Table("model", "versions", "latest", "aliases", "protected")
    for model in models:
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(model.aliases.items()))
        table.add_row(
            model.name, str(model.versions), when(model.latest_at), aliases or "-",
            ", ".join(sorted(model.protected)),
        )  # fmt: skip
    console.print(table if models else "No models yet. Log one with run.log_model(model, NAME).")


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@alias")], json: JSON = False
) -> None:
    """One version: its run, signature, aliases, tags, guardrails and evaluations."""
    details = prodml.describe_model(ref)
    version, aliases, evaluations = details.version, details.aliases, details.evaluations
    if json:
        emit_json(
            {
                "model": version,
                "format": version.format,
                "needs_trust": version.needs_trust,
                "aliases": aliases,
                "tags": details.tags,
                "evaluations": evaluations,
            }
        )
        return
    console.print(Text.assemble((f"Model {version.ref}", "bold"), f"  {version.flavor}"))
    console.print(f"  run {version.run_id[:12]}, by {version.author}, {when(version.created_at)}")
    console.print(f"  format: {version.format} ({_trust(version.needs_trust)})")
    console.print(f"  aliases: {', '.join(aliases) or '-'}")
    columns = version.signature.get("columns", [])
    signature = ", ".join(f"{c['name']}:{c['type']}" for c in columns)
    console.print(f"  signature: {signature or '-'}")
    for tag in details.tags:
        console.print(f"  tag {tag.key} = {tag.value}")
    guardrails = details.guardrails
    console.print(f"  guardrails: {'-' if guardrails is None else f'version {guardrails}'}")
    for evaluation in evaluations[:5]:
        verdict = evaluation.get("verdict") or "-"
        made = evaluation["created_at"][:19]
        console.print(f"  evaluation {evaluation['id'][:12]} ({made}), gate: {verdict}")


def _trust(needed: bool) -> str:
    if needed:
        return "needs trust: loading it runs code; refused when allow_pickle = false"
    return "loads without running code"


@app.command("register")
def register(
    run_id: str,
    name: str,
    source: Annotated[
        str | None, typer.Option("--from", help="Model or artifact of the run.")
    ] = None,
) -> None:
    """A new version of NAME from a run's logged model (or pickled-model artifact)."""
    version = prodml.register_model(run_id, name, source)
    console.print(f"Registered {version.ref} from run {version.run_id[:12]}.")


@app.command("alias")
def alias(
    ref: str, alias_name: Annotated[str, typer.Argument(metavar="ALIAS")], why: REASON = None
) -> None:
    """Point an unprotected alias (e.g. challenger) at NAME@VERSION."""
    move = prodml.set_alias(ref, alias_name, why)
    was = f" (was v{move.previous})" if move.previous else ""
    console.print(f"{move.model}@{move.alias} -> v{move.version}{was}")


@app.command("unalias")
def unalias(
    name: str, alias_name: Annotated[str, typer.Argument(metavar="ALIAS")], why: REASON = None
) -> None:
    """Remove an alias (a protected one needs --why)."""
    move = prodml.remove_alias(name, alias_name, why)
    console.print(f"{move.model}@{move.alias} removed (was v{move.previous})")


@app.command("protect")
def protect(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS")],
    off: Annotated[bool, typer.Option("--off", help="Unprotect instead.")] = False,
) -> None:
    """Make ALIAS of NAME move only through the gate (champion always does)."""
    prodml.protect_alias(name, alias_name, not off)
    console.print(f"{name}@{alias_name} is {'no longer ' if off else ''}protected.")


@app.command("tag")
def tag(ref: str, pairs: Annotated[list[str], typer.Argument(help="KEY=VALUE ...")]) -> None:
    """Tag a version: prodml models tag churn@3 owner=risk ticket=ML-42"""
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInputError(f"Tag {pair!r} is not KEY=VALUE.")
        prodml.tag_model(ref, key, value)
    console.print(f"Tagged {ref}: {', '.join(pairs)}")


@app.command("guardrails")
def guardrails(
    ref: str, rules: Annotated[Path, typer.Argument(help="YAML file of rules.")]
) -> None:
    """Attach post-prediction rules to NAME@VERSION; they apply wherever it predicts."""
    if not rules.is_file():
        raise InvalidInputError(f"No guardrails file at {rules}.")
    version = prodml.attach_guardrails(ref, rules)
    console.print(f"Guardrails version {version} attached to {ref}.")


@app.command("promote")
def promote(
    name: str,
    version: str,
    to: Annotated[str, typer.Option("--to", help="The alias to move.")] = "champion",
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the gate refuses.")
    ] = False,
    why: REASON = None,
) -> None:
    """Run the suite's gate (candidate vs the current holder) and move the alias if it passes."""
    with console.status(f"Evaluating {name}@{version} against the current {to} ..."):
        promotion = prodml.promote(name, version, to, why, force)
    move = promotion.move
    gate = promotion.comparison.gate if promotion.comparison else None
    verdict = gate.verdict.value if gate else "no gate"
    if move.forced:
        console.print(
            Text.assemble(
                ("Forced: ", "yellow"),
                f"{name}@{to} -> v{move.version} (gate: {verdict}); reason recorded: {move.reason}",
            )
        )
    else:
        console.print(
            Text.assemble(
                ("Promoted: ", "green"), f"{name}@{to} -> v{move.version} (gate: {verdict})"
            )
        )
    if gate:
        for note in gate.notes:
            console.print(f"  note: {note}")


@app.command("history")
def history(
    name: str,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Aliases at that moment: ISO time, or 1h, 7d back..."),
    ] = None,
    json: JSON = False,
) -> None:
    """Every alias move (who, when, why, gate verdict) and the aliases at --as-of."""
    moment = parse(as_of, "--as-of") if as_of else None
    result = prodml.model_history(name, moment)
    if json:
        emit_json(result)
        return
    table = Table("when", "alias", "change", "by", "gate", "reason", title=f"alias moves of {name}")
    moves = [m for m in result.moves if moment is None or m.at <= moment]
    for move in moves:
        before = f"v{move.previous}" if move.previous else "-"
        change = f"{before} -> {'v' + str(move.version) if move.version else 'removed'}"
        gate = (move.verdict or "-") + (" (forced)" if move.forced else "")
        table.add_row(when(move.at), move.alias, change, move.actor, gate, move.reason or "")
    console.print(table if moves else f"No alias of {name} had moved by then.")
    state = ", ".join(f"{a} = v{v}" for a, v in sorted(result.aliases.items())) or "none"
    console.print(f"Aliases {'at ' + when(moment) if moment else 'now'}: {state}")


@app.command("require-approval")
def require_approval(
    name: str,
    by: Annotated[
        str | None, typer.Option("--by", help="Who must approve, comma-separated: alice,bob")
    ] = None,
    none: Annotated[bool, typer.Option("--none", help="Require no sign-off any more.")] = False,
    why: REASON = None,
) -> None:
    """Require named approvers to approve a version before it becomes champion."""
    if (by is None) == (not none):
        raise InvalidInputError("Give either --by NAMES (e.g. --by alice,bob) or --none.")
    signed = prodml.require_approval(name, "" if none else str(by), why)
    chosen = ", ".join(signed.required)
    console.print(
        f"{name}: champion needs sign-off by {chosen}" if chosen else f"{name}: no sign-off needed"
    )


@app.command("approve")
def approve(
    name: str,
    version: Annotated[str, typer.Argument(help="Version number or alias")],
    why: REASON = None,
) -> None:
    """Approve a version as yourself (your token's name, else your user)."""
    approval = prodml.approve(name, version, why)
    signed = prodml.approvals(name, approval.version)
    left = ", ".join(signed.missing)
    state = f"still waiting for {left}" if left else "sign-off complete"
    console.print(f"{approval.approver} approved {name}@{approval.version}; {state}.")


@app.command("approvals")
def approvals(
    name: str,
    version: Annotated[str | None, typer.Argument(help="Version number or alias")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As at that moment: ISO time, or 1h, 7d back.")
    ] = None,
    json: JSON = False,
) -> None:
    """Who must approve a version before it becomes champion, and who has."""
    signed = prodml.approvals(name, version, as_of)
    if json:
        emit_json({"sign_off": signed, "missing": signed.missing, "complete": signed.complete})
        return
    if not signed.required:
        console.print(f"{name} needs no sign-off to become champion.")
    else:
        by = f" (set by {signed.set_by}, {when(signed.set_at)})" if signed.set_by else ""
        console.print(f"{name}: champion needs sign-off by {', '.join(signed.required)}{by}")
    if signed.version is None:
        return
    for approval in signed.given:
        reason = f": {approval.reason}" if approval.reason else ""
        console.print(f"  approved by {approval.approver}, {when(approval.at)}{reason}")
    missing = ", ".join(signed.missing)
    done = f"missing: {missing}" if missing else "complete"
    console.print(f"{name}@{signed.version}: sign-off {done}")
