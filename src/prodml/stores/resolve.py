"""Resolving what users type (id prefixes, ``NAME@VERSION``) to stored ids."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from prodml.errors import ECHOED, InvalidInputError, NotFoundError, echoed

MIN_PREFIX = 4
# SQLite's LIKE ignores case, so it cannot use an index: a prefix of hex digits is also
# given as a range (a run id among 100,000 runs: a scan of the table becomes a lookup).
HEX = re.compile(r"[0-9a-f]+")
AFTER = {digit: "0123456789abcdefg"[index + 1] for index, digit in enumerate("0123456789abcdef")}


def by_prefix(
    connection: sa.Connection, column: sa.Column[str], prefix: str, what: str, hint: str
) -> str:
    """The one stored id that starts with ``prefix``; errors name the candidates."""
    text = prefix.strip().lower()
    if len(text) < MIN_PREFIX:
        raise InvalidInputError(
            f"Id {echoed(prefix)} is too short: give at least {MIN_PREFIX} characters. {hint}"
        )
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = sa.select(column).where(column.like(f"{escaped}%", escape="\\"))
    if HEX.fullmatch(text):  # ids are lowercase hex: a range of the index holds them
        query = query.where(column >= text, column < text[:-1] + AFTER[text[-1]])
    rows = connection.execute(query.distinct().limit(5)).scalars()
    matches = list(rows)
    if not matches:
        raise NotFoundError(f"No {what} {echoed(prefix)} in this store. {hint}")
    if len(matches) > 1:
        listed = ", ".join(match[:12] for match in matches)
        raise InvalidInputError(
            f"Id {echoed(prefix)} matches several {what}s ({listed}); give more characters."
        )
    return matches[0]


def one_version(
    connection: sa.Connection, table: sa.Table, name: str, version: str | None, missing: str
) -> Any:
    """The row of ``name@version`` where version is a number (under 6 digits),
    ``latest`` (or None), or a prefix of the id; ``missing`` is the not-found
    message's next step."""
    columns = table.c
    query = sa.select(table).where(columns.name == name)
    if version is None or version == "latest":
        query = query.order_by(columns.version.desc()).limit(1)
    elif version.isascii() and version.isdigit() and len(version) < 6:
        query = query.where(columns.version == int(version))
    else:
        prefix = columns.id.startswith(version.lower(), autoescape=True)
        query = query.where(prefix).order_by(columns.version)
    rows = connection.execute(query).all()
    if not rows:
        ref = f"{name}@{version or 'latest'}"
        shown = ref if len(ref) <= ECHOED else echoed(ref)
        raise NotFoundError(f"No version {shown} in this store. {missing}")
    if len(rows) > 1:
        listed = ", ".join(f"{name}@{row.version}" for row in rows)
        raise InvalidInputError(
            f"{name}@{version} matches several versions ({listed}); give more characters."
        )
    return rows[0]
