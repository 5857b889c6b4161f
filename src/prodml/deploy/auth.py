"""Turning access control on and off for a store, and what it is now.

``enable`` sets the store's mode to ``admin`` or ``all``, ``disable`` to ``off``;
each change is an ``auth.mode`` event with who, when and why. While auth is on,
changing the mode needs a deployer token. Turning auth on never locks the team
out: whoever turns it on leaves holding a deployer token. If the token they
present (``PRODML_TOKEN``) is not one, a new deployer token is made and returned
with the change, to be shown once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prodml.client import Client
from prodml.deploy import auth_mode, tokens
from prodml.errors import InvalidInputError

FIRST_TOKEN = "deployer"  # the name of a first deployer token, then deployer-2, ...


@dataclass(frozen=True, kw_only=True)
class AuthStatus:
    mode: str  # the store's
    effective: str  # this process's: the store's, raised by the auth setting
    changed_by: str | None
    changed_at: datetime | None
    deployers: int  # active tokens of each role
    predictors: int
    presented: tokens.Grant | None  # what this process's token grants (None: no known token)


@dataclass(frozen=True, kw_only=True)
class ModeChange:
    was: str
    status: AuthStatus
    token_name: str | None = None
    token: str | None = None  # a new deployer token, shown once


def status(client: Client) -> AuthStatus:
    event = auth_mode.latest(client)
    active = [token.role for token in client.metadata.tokens() if token.active]
    mode = auth_mode.mode_of(event)
    return AuthStatus(
        mode=mode,
        effective=auth_mode.raised(client, mode),
        changed_by=event.actor if event else None,
        changed_at=event.at if event else None,
        deployers=active.count(tokens.DEPLOYER),
        predictors=active.count(tokens.PREDICTOR),
        presented=tokens.lookup(client, client.settings.token or None),
    )


def enable(
    client: Client, mode: str, why: str | None = None, token_name: str | None = None
) -> ModeChange:
    """Set the store's mode to ``admin`` or ``all``; with a new deployer token (named
    ``token_name``) when auth was off and the caller presents none."""
    if mode not in (auth_mode.ADMIN, auth_mode.ALL):
        raise InvalidInputError(
            f"Auth mode {mode!r} is not one to enable: use admin (deploy actions need a "
            "deployer token) or all (predictions need a token too). To turn auth off: "
            "prodml auth disable"
        )
    was = auth_mode.stored(client)
    if was == mode:
        return ModeChange(was=was, status=status(client))
    made: tuple[str, str] | None = None
    if was == auth_mode.OFF:
        if not _holds_deployer(client):
            made = _first_token(client, token_name)
    else:
        _require_fresh(client)
    _record(client, mode, was, why)
    name, token = made if made else (None, None)
    return ModeChange(was=was, status=status(client), token_name=name, token=token)


def disable(client: Client, why: str | None = None) -> ModeChange:
    """Set the store's mode to ``off``: nothing is checked any more."""
    was = auth_mode.stored(client)
    if was != auth_mode.OFF:
        _require_fresh(client)
        _record(client, auth_mode.OFF, was, why)
    return ModeChange(was=was, status=status(client))


def _require_fresh(client: Client) -> None:
    auth_mode.forget(client)  # judge by the store's mode now, not one cached a second ago
    tokens.require(client, "auth")


def _record(client: Client, mode: str, was: str, why: str | None) -> None:
    client.metadata.record_event("auth.mode", auth_mode.SUBJECT, why, {"mode": mode, "was": was})
    auth_mode.forget(client)


def _holds_deployer(client: Client) -> bool:
    grant = tokens.lookup(client, client.settings.token or None)
    return grant is not None and grant.role == tokens.DEPLOYER


def _first_token(client: Client, name: str | None) -> tuple[str, str]:
    if name is None:
        taken = {token.name for token in client.metadata.tokens()}
        candidates = (FIRST_TOKEN if n == 1 else f"{FIRST_TOKEN}-{n}" for n in range(1, 10**6))
        name = next(c for c in candidates if c not in taken)
    return name, tokens.create(client, name, tokens.DEPLOYER)
