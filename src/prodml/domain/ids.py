"""Identifiers and the times every record carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_id() -> str:
    """A random 32-hex id; any unique prefix of 6+ characters resolves to it."""
    return uuid.uuid4().hex


def short(identifier: str, length: int = 12) -> str:
    return identifier[:length]


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time; a time without zone is local time, as people type it."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.astimezone()


def split_ref(ref: str) -> tuple[str, str | None]:
    """Split ``NAME@VERSION`` into its parts; a bare name has version None."""
    name, sep, version = ref.partition("@")
    return name, (version or None) if sep else None


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
