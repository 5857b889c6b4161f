"""The registry's moving parts: aliases (champion, challenger, any name) and tags,
each change an append-only record with who, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CHAMPION = "champion"
CHALLENGER = "challenger"
PROTECTED_BY_DEFAULT = frozenset({CHAMPION})


@dataclass(frozen=True, kw_only=True)
class AliasMove:
    """``alias`` of model ``model`` pointed to ``version`` (None: removed) from ``at``."""

    model: str
    alias: str
    version: int | None
    previous: int | None
    at: datetime
    actor: str
    reason: str | None = None
    forced: bool = False
    evaluation_id: str | None = None
    verdict: str | None = None


@dataclass(frozen=True, kw_only=True)
class Tag:
    model: str
    version: int
    key: str
    value: str
    at: datetime
    actor: str


@dataclass(frozen=True, kw_only=True)
class RegisteredModel:
    """A model name with its versions, current aliases and protected aliases."""

    name: str
    versions: int
    latest_at: datetime
    aliases: dict[str, int]
    protected: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class AliasChange:
    """A move of ``alias`` to be made with another change (a rollout's end), refused if
    the alias no longer points at ``expected``."""

    name: str
    alias: str
    version: int | None
    model_id: str
    reason: str | None = None
    forced: bool = False
    evaluation_id: str | None = None
    verdict: str | None = None
    expected: int | None = None
