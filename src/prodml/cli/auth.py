"""``prodml auth`` (the store's access mode) and ``prodml tokens``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, when

auth = typer.Typer(
    help="Access control of the store: off, admin (deploy actions need a deployer token) "
    "or all (predictions too).",
    no_args_is_help=True,
)
tokens = typer.Typer(help="Access tokens (stored hashed).", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
REASON = Annotated[str | None, typer.Option("--why", help="Why: recorded with the change.")]


@auth.command("enable")
def enable(
    mode: Annotated[str, typer.Argument(help="admin or all")] = "admin",
    why: REASON = None,
    token_name: Annotated[
        str | None, typer.Option(help="Name of the first deployer token, if one is made.")
    ] = None,
) -> None:
    """Turn access control on for everyone on this store (needs a deployer token once on)."""
    change = prodml.enable_auth(mode, why, token_name)
    if change.was == change.status.mode:
        console.print(f"Auth is already {change.was}; nothing changed.")
        return
    console.print(f"Auth is now {change.status.mode} (was {change.was}).")
    if change.token:
        console.print(
            Text.assemble(
                ("A first deployer token ", "bold"),
                f"{change.token_name!r} was made for you; keep it now, it is not shown again:",
            )
        )
        console.print(change.token, soft_wrap=True)  # copied whole, never folded
        console.print(
            "Present it as PRODML_TOKEN (CLI and SDK) or Authorization: Bearer (HTTP); "
            "make more with: prodml tokens create NAME --role deployer|predictor"
        )


@auth.command("disable")
def disable(why: REASON = None) -> None:
    """Turn access control off (needs a deployer token)."""
    change = prodml.disable_auth(why)
    if change.was == "off":
        console.print("Auth is already off; nothing changed.")
    else:
        console.print(f"Auth is now off (was {change.was}): nothing is checked.")


@auth.command("status")
def status(json: JSON = False) -> None:
    """The store's mode, who set it, the active tokens, and what PRODML_TOKEN grants."""
    shown = prodml.auth_status()
    if json:
        emit_json(shown)
        return
    since = f", set by {shown.changed_by} at {when(shown.changed_at)}" if shown.changed_by else ""
    console.print(f"Auth: {shown.mode}{since}.")
    if shown.effective != shown.mode:
        console.print(f"This process demands {shown.effective} (the auth setting raises it).")
    console.print(f"Active tokens: {shown.deployers} deployer, {shown.predictors} predictor.")
    grant = shown.presented
    console.print(
        f"PRODML_TOKEN: {grant.name!r} ({grant.role})." if grant else "PRODML_TOKEN: none known."
    )


@tokens.command("create")
def create(
    name: str,
    role: Annotated[str, typer.Option(help="deployer or predictor")] = "deployer",
) -> None:
    """Make a token; it is shown once and stored only as a digest."""
    token = prodml.create_token(name, role)
    console.print(f"Token {name!r} ({role}); keep it now, it is not shown again:")
    console.print(token, soft_wrap=True)


@tokens.command("list")
def list_tokens(json: JSON = False) -> None:
    """Every token: name, role, who made it and when, and whether it is revoked."""
    found = prodml.list_tokens()
    if json:
        emit_json(found)
        return
    table = Table("name", "role", "created", "by", "revoked")
    for token in found:
        revoked = when(token.revoked_at) if token.revoked_at else "-"
        table.add_row(token.name, token.role, when(token.created_at), token.actor, revoked)
    console.print(table)


@tokens.command("revoke")
def revoke(name: str) -> None:
    """Revoke a token: refused everywhere within seconds."""
    prodml.revoke_token(name)
    console.print(f"Token {name!r} revoked.")


def register(app: typer.Typer) -> None:
    app.add_typer(auth, name="auth")
    app.add_typer(tokens, name="tokens")
