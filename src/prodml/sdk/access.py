"""The access SDK: the store's auth mode and its tokens.

The mode belongs to the store (``off``, ``admin`` or ``all``), so every process on
it agrees. While auth is on, changing the mode and making or revoking tokens need
a deployer token, read from ``PRODML_TOKEN`` (or ``prodml.toml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodml.client import Client, default_client
from prodml.domain.token import TokenRecord

if TYPE_CHECKING:
    from prodml.deploy.auth import AuthStatus, ModeChange


def enable_auth(
    mode: str = "admin",
    why: str | None = None,
    token_name: str | None = None,
    client: Client | None = None,
) -> ModeChange:
    """Turn access control on: ``admin`` (deploy actions need a deployer token) or
    ``all`` (predictions need a token too). If auth was off and this process presents
    no deployer token, a first one (named ``token_name``) is made and returned in
    ``.token``, shown once, so turning auth on never locks the team out."""
    from prodml.deploy import auth

    return auth.enable(client or default_client(), mode, why, token_name)


def disable_auth(why: str | None = None, client: Client | None = None) -> ModeChange:
    """Turn access control off (needs a deployer token while it is on)."""
    from prodml.deploy import auth

    return auth.disable(client or default_client(), why)


def auth_status(client: Client | None = None) -> AuthStatus:
    """The store's mode, who set it and when, the active tokens by role, and what the
    token this process presents grants."""
    from prodml.deploy import auth

    return auth.status(client or default_client())


def create_token(name: str, role: str, client: Client | None = None) -> str:
    """A new access token (shown once; only its digest is stored)."""
    from prodml.deploy import tokens

    client = client or default_client()
    tokens.require(client, "token")
    return tokens.create(client, name, role)


def list_tokens(client: Client | None = None) -> list[TokenRecord]:
    """Every token (never its digest): name, role, who made it and when, and when it
    was revoked."""
    return (client or default_client()).metadata.tokens()


def token_grant(token: str, client: Client | None = None) -> tuple[str, str] | None:
    """The name and role an active token grants; None for an unknown or revoked one."""
    from prodml.deploy import tokens

    grant = tokens.lookup(client or default_client(), token)
    return None if grant is None else (grant.name, grant.role)


def revoke_token(name: str, client: Client | None = None) -> None:
    """Revoke a token: refused at once in this process, within seconds in others."""
    from prodml.deploy import tokens

    client = client or default_client()
    tokens.require(client, "token")
    tokens.revoke(client, name)
