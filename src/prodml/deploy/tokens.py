"""Access tokens: made once, shown once, stored only as a SHA-256 digest. A
``deployer`` token may promote, roll back and run rollouts (and predict); a
``predictor`` token may only predict. With the ``auth`` setting ``off`` nothing is
checked; ``admin`` guards deploy actions; ``all`` guards predictions too."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from prodml.client import Client
from prodml.errors import AccessDeniedError, InvalidInputError
from prodml.names import check_name

DEPLOYER, PREDICTOR = "deployer", "predictor"
ROLES = (DEPLOYER, PREDICTOR)
PREFIX = "pml_"


@dataclass(frozen=True)
class Grant:
    name: str
    role: str


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


def needed(client: Client, action: str) -> str | None:
    """The role ``action`` needs under the current auth setting (None: no check)."""
    mode = client.settings.auth
    if mode == "off" or (mode == "admin" and action == "predict"):
        return None
    return PREDICTOR if action == "predict" else DEPLOYER


def check(client: Client, token: str | None, action: str) -> Grant | None:
    """The grant ``token`` gives for ``action``; refusals are logged and raised."""
    role = needed(client, action)
    if role is None:
        return None
    grant = lookup(client, token)
    allowed = grant is not None and (grant.role == DEPLOYER or grant.role == role)
    if allowed:
        return grant
    who = grant.name if grant else ("no token" if not token else "unknown token")
    client.metadata.record_event(
        "auth.refused", ("action", action), f"needs a {role} token", {"token": who}
    )
    raise AccessDeniedError(
        f"{action} needs a token with the {role} role ({who} given). Set PRODML_TOKEN, "
        f"or make one: prodml tokens create NAME --role {role}"
    )


_cache: dict[str, tuple[float, Grant | None]] = {}
CACHE_SECONDS = 5.0


def lookup(client: Client, token: str | None) -> Grant | None:
    """The grant of a token, cached for a few seconds (a revocation takes that long)."""
    if not token:
        return None
    key = f"{client.settings.metadata_url} {digest(token)}"
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    row = client.metadata.token(digest(token))
    grant = None if row is None else Grant(row["name"], row["role"])
    _cache[key] = (now, grant)
    return grant
