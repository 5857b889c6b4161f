"""Insert-or-update of the latest value per run and metric, on either database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from prodml.stores import driver


def upsert_latest(connection: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Keep, per (run, key), the point with the highest (step, timestamp).

    Rows are ``(run_id, key, step, value, ts)``; the statement is the same on
    SQLite (3.24+) and PostgreSQL."""
    driver.execute_many(connection, _UPSERT, rows)


_UPSERT = (
    "INSERT INTO latest_metrics (run_id, key, step, value, ts) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (run_id, key) DO UPDATE SET"
    " step = excluded.step, value = excluded.value, ts = excluded.ts"
    " WHERE excluded.step > latest_metrics.step"
    " OR (excluded.step = latest_metrics.step AND excluded.ts >= latest_metrics.ts)"
)
