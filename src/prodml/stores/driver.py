"""Hot-path statements as plain SQL, written with ``?`` placeholders that work on
SQLite and PostgreSQL alike.

``execute`` goes through SQLAlchemy's driver-level call (no compilation per call).
``change`` and ``execute_many`` hand the statement straight to the driver's cursor,
which costs a tenth of that, unless something listens to the engine's statements
(the OpenLineage emitter does): then they go through SQLAlchemy too, so every
listener sees every statement as written. On PostgreSQL ``execute_many`` sends an
INSERT of many rows as one statement with many VALUES groups. Either way a driver
error reaches the caller as SQLAlchemy's wrapped error (``OperationalError``,
``IntegrityError``, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


@functools.cache
def _for(paramstyle: str, sql: str) -> str:
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


def execute(connection: sa.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    result = connection.exec_driver_sql(_for(connection.dialect.paramstyle, sql), tuple(params))
    return list(result.fetchall()) if result.returns_rows else []


def change(connection: sa.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one INSERT, UPDATE or DELETE; the number of rows it changed."""
    return _direct(connection, sql, tuple(params), many=False)


def execute_many(connection: sa.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run one statement for each row; the number of rows changed in all. On PostgreSQL
    an INSERT of several rows goes as one statement of many VALUES: the driver's own
    executemany sends each row and waits on the socket for it."""
    if not rows:
        return 0
    if (
        len(rows) == 1
        or connection.dialect.name != "postgresql"
        or not _many_values(sql)
        or connection.dispatch.after_cursor_execute  # a listener sees the rows as given
    ):
        return _direct(connection, sql, list(rows), many=True)
    changed, each = 0, max(1, _BOUND_VALUES // max(1, len(rows[0])))
    for start in range(0, len(rows), each):
        chunk = rows[start : start + each]
        flat = tuple(value for row in chunk for value in row)
        changed += _direct(connection, _values(sql, len(chunk)), flat, many=False)
    return changed


_BOUND_VALUES = 30_000  # a statement's at most: PostgreSQL takes up to 65,535


@functools.cache
def _many_values(sql: str) -> bool:
    """Whether ``sql`` is an INSERT whose only bound values are one VALUES group."""
    head, _, tail = sql.partition(" VALUES (")
    return (
        sql.startswith("INSERT ")
        and "?" not in head
        and tail.count("?") == tail.split(")")[0].count("?")
    )


@functools.cache
def _values(sql: str, count: int) -> str:
    """``INSERT ... VALUES (?, ?) ...`` as an INSERT of ``count`` rows."""
    head, values, tail = sql.partition(" VALUES ")
    group, close, rest = tail.partition(")")
    return f"{head}{values}{', '.join([group + close] * count)}{rest}"


def _direct(connection: sa.Connection, sql: str, params: Any, many: bool) -> int:
    dialect = connection.dialect
    text = _for(dialect.paramstyle, sql)
    if connection.dispatch.after_cursor_execute:  # a listener must see the statement
        return int(connection.exec_driver_sql(text, params).rowcount)
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(text, params)
        else:
            cursor.execute(text, params)
        return int(cursor.rowcount)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor):
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(
            text, params, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from None
    finally:
        cursor.close()
