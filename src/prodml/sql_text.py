"""SQL text built from names and values that come from data: a logged request's keys
become column names, category values become slice conditions, and both end up in
queries. Each is quoted here, one way, so that no name or value can close the quote
it sits in; values are bound as parameters instead wherever DuckDB takes one.

SQL that people write themselves (a suite slice's ``where``, a guardrail's ``when``,
``prodml predictions query SQL``) is theirs and is used as written.

``seal`` takes a DuckDB connection off the file system, extensions and network once
its views are made, so a query over the prediction log can read those files and
nothing else, and cannot turn that back on; ``one_select`` refuses any statement
that could write (COPY, ATTACH, SET, a second statement), since a sealed connection
may still write the very files it reads."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from prodml.errors import InvalidInputError


def identifier(name: str) -> str:
    """``name`` as a quoted identifier: ``"a""b"`` for ``a"b``."""
    if not name or "\x00" in name:
        why = "is empty" if not name else "holds a NUL character"
        raise InvalidInputError(
            f"Column name {name!r} {why}, which SQL cannot name. Rename the column (or the "
            "input field) to a name with visible characters."
        )
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """``value`` as a SQL constant: text single-quoted with quotes doubled, numbers as
    numbers (NaN and infinities as typed constants), booleans, NULL and lists."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return repr(number) if math.isfinite(number) else f"'{number}'::DOUBLE"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def seal(connection: Any, readable: Sequence[str] = ()) -> None:
    """From now on ``connection`` reads only the files ``readable`` (those its views
    scan), writes none, loads no extension, and cannot change its settings back.

    DuckDB has no read-only list of files: a query on a sealed connection could still
    overwrite one of ``readable``. That is why ``readable`` names files, never folders
    (a folder would let a query add files to it)."""
    if readable:
        connection.execute("SET allowed_paths = ?", [list(readable)])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def one_select(sql: str) -> None:
    """Refuse ``sql`` unless it is one SELECT (or an EXPLAIN of one). DuckDB's own
    parse errors pass through as ``duckdb.Error``."""
    import duckdb

    kinds = [statement.type.name for statement in duckdb.extract_statements(sql)]
    if kinds not in (["SELECT"], ["EXPLAIN"]):
        raise InvalidInputError(
            f"A query over the log is one SELECT; this is {' then '.join(kinds) or 'empty'}. "
            "It reads the log and changes nothing: write the rows elsewhere from its result."
        )
