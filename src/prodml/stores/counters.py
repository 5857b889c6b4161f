"""Store counters: named integers that only go up, bumped inside the transaction of
the change they count. Unlike a wall-clock time, a counter read on any host moves
whenever the change it counts commits, however far that host's clock is behind."""

from __future__ import annotations

import sqlalchemy as sa

from prodml.stores import driver, schema

ROUTING = "routing"  # alias moves, rollout changes, guardrails: what a gateway routes by

_BUMP = (
    "INSERT INTO store_counters (name, value) VALUES (?, 1)"
    " ON CONFLICT (name) DO UPDATE SET value = store_counters.value + 1"
)


def bump(connection: sa.Connection, name: str) -> None:
    """Add one to ``name`` in the caller's write transaction. Call it last in that
    transaction: on PostgreSQL the counter's row stays locked until commit."""
    driver.execute(connection, _BUMP, (name,))


def value(connection: sa.Connection, name: str) -> int:
    table = schema.store_counters
    found = connection.execute(sa.select(table.c.value).where(table.c.name == name)).scalar()
    return int(found or 0)
