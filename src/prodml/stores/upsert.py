"""Insert-or-update of the latest value per run and metric, on either database."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from prodml.stores import schema


def upsert_latest(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Keep, per (run, key), the point with the highest (step, timestamp)."""
    if rows:
        connection.execute(_statement(connection.dialect.name), rows)


@functools.cache
def _statement(dialect_name: str) -> sa.Executable:
    table = schema.latest_metrics
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    newer = sa.or_(
        statement.excluded.step > table.c.step,
        sa.and_(statement.excluded.step == table.c.step, statement.excluded.ts >= table.c.ts),
    )
    upsert: sa.Executable = statement.on_conflict_do_update(
        index_elements=[table.c.run_id, table.c.key],
        set_={
            "step": statement.excluded.step,
            "value": statement.excluded.value,
            "ts": statement.excluded.ts,
        },
        where=newer,
    )
    return upsert
