"""An access token as the store keeps it: a name and a role, never the token itself
(only its digest is stored, and never handed out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class TokenRecord:
    name: str
    role: str  # deployer or predictor
    created_at: datetime
    actor: str  # who made it
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
