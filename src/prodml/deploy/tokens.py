"""Access tokens: made once, shown once, stored only as a SHA-256 digest. A
``deployer`` token may change what serves (aliases, promotion, sign-off,
guardrails, rollouts, rollback, tokens, the auth mode) and predict; a ``predictor``
token may only predict. Under the store's auth mode (``auth_mode.py``) ``off`` checks
nothing, ``admin`` guards deploy actions and ``all`` guards predictions too.

The SDK calls :func:`require` before every deploy action, with the token this
process presents (``PRODML_TOKEN``); the gateway calls :func:`needed` and
:func:`check` with the request's bearer token. Grants are cached a few seconds
in a bounded cache (a revoked token works that long in a process that used it);
refusals are counted, not logged one by one (``refusals.py``)."""

from __future__ import annotations

import atexit
import hashlib
import secrets
from dataclasses import dataclass

from prodml.client import Client
from prodml.deploy import auth_mode
from prodml.deploy.expiring import Expiring
from prodml.deploy.refusals import Refusals
from prodml.errors import AccessDeniedError, InvalidInputError
from prodml.names import check_name

DEPLOYER, PREDICTOR = "deployer", "predictor"
ROLES = (DEPLOYER, PREDICTOR)
PREFIX = "pml_"
CACHE_SECONDS = 5.0  # how long a revoked token keeps working in a process that used it
CACHE_SIZE = 1024  # forged tokens take one entry each; the least recently used go first
ACTIONS = {  # what each guarded action is called in a refusal
    "predict": "predict",
    "promote": "promote",
    "rollback": "rollback",
    "rollout": "rollout",
    "alias": "moving an alias",
    "protect": "protecting an alias",
    "guardrails": "attaching guardrails",
    "token": "making or revoking a token",
    "auth": "changing the auth mode",
    "approve": "approving a version",
    "sign-off": "requiring sign-off",
}


@dataclass(frozen=True)
class Grant:
    name: str
    role: str


GRANTS: Expiring[tuple[str, str], Grant | None] = Expiring(CACHE_SIZE, CACHE_SECONDS)
REFUSALS = Refusals()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(client: Client, name: str, role: str) -> str:
    """A new token; only its digest is stored, so print it now or lose it."""
    check_name(name, "token")
    if role not in ROLES:
        raise InvalidInputError(f"Role {role!r} is not known; use one of: {', '.join(ROLES)}.")
    token = PREFIX + secrets.token_urlsafe(32)
    client.metadata.add_token(name, digest(token), role)
    return token


def revoke(client: Client, name: str) -> None:
    """Revoke a token: at once in this process, within the cache time in others."""
    client.metadata.revoke_token(name)
    url = client.settings.metadata_url
    GRANTS.drop(lambda key, grant: key[0] != url or grant is None or grant.name != name)


def needed(client: Client, action: str) -> str | None:
    """The role ``action`` needs under the store's auth mode (None: no check)."""
    mode = auth_mode.effective(client)
    if mode == auth_mode.OFF or (mode == auth_mode.ADMIN and action == "predict"):
        return None
    return PREDICTOR if action == "predict" else DEPLOYER


def check(client: Client, token: str | None, action: str) -> Grant | None:
    """The grant ``token`` gives for ``action``; refusals are counted and raised."""
    REFUSALS.write_due()
    role = needed(client, action)
    if role is None:
        return None
    grant = lookup(client, token)
    if grant is not None and grant.role in (DEPLOYER, role):
        return grant
    who = grant.name if grant else ("no token" if not token else "unknown token")
    example = digest(token)[:12] if token and grant is None else None
    REFUSALS.count(client, action, role, who, example)
    raise AccessDeniedError(
        f"{ACTIONS.get(action, action)} needs a token with the {role} role ({who} given). "
        "Set PRODML_TOKEN (over HTTP: Authorization: Bearer TOKEN); someone holding a "
        f"deployer token can make one: prodml tokens create NAME --role {role}"
    )


def require(client: Client, action: str) -> Grant | None:
    """The SDK's guard: the token this process presents must allow ``action``."""
    return check(client, client.settings.token or None, action)


def authorised(client: Client, action: str) -> Client:
    """The client, once the token it presents (``PRODML_TOKEN``) is allowed ``action``."""
    require(client, action)
    return client


def lookup(client: Client, token: str | None) -> Grant | None:
    """The grant of an active token (None for an unknown or revoked one), cached."""
    if not token:
        return None
    hashed = digest(token)
    key = (client.settings.metadata_url, hashed)
    hit, grant = GRANTS.get(key)
    if hit:
        return grant
    found = client.metadata.token(hashed)
    grant = Grant(found.name, found.role) if found is not None else None
    GRANTS.put(key, grant)
    return grant


atexit.register(REFUSALS.flush)  # the counts held since this minute's first refusal
