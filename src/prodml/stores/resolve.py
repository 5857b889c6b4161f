"""Resolving what users type (id prefixes, ``NAME@VERSION``) to stored ids."""

from __future__ import annotations

import sqlalchemy as sa

from prodml.errors import InvalidInputError, NotFoundError

MIN_PREFIX = 4


def by_prefix(
    connection: sa.Connection, column: sa.Column[str], prefix: str, what: str, hint: str
) -> str:
    """The one stored id that starts with ``prefix``; errors name the candidates."""
    text = prefix.strip().lower()
    if len(text) < MIN_PREFIX:
        raise InvalidInputError(
            f"Id {prefix!r} is too short: give at least {MIN_PREFIX} characters. {hint}"
        )
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = connection.execute(
        sa.select(column).where(column.like(f"{escaped}%", escape="\\")).distinct().limit(5)
    ).scalars()
    matches = list(rows)
    if not matches:
        raise NotFoundError(f"No {what} {prefix!r} in this store. {hint}")
    if len(matches) > 1:
        listed = ", ".join(match[:12] for match in matches)
        raise InvalidInputError(
            f"Id {prefix!r} matches several {what}s ({listed}); give more characters."
        )
    return matches[0]
