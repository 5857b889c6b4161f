"""Hot-path statements as plain SQL sent through SQLAlchemy's driver-level call:
no compilation per call, errors still wrapped by SQLAlchemy. The SQL is written
with ``?`` placeholders and works on SQLite and PostgreSQL alike."""

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


def execute_many(connection: sa.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        connection.exec_driver_sql(_for(connection.dialect.paramstyle, sql), list(rows))
