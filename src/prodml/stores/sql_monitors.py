"""Monitor specs and evaluated windows in the SQL store. A window is evaluated once
per kind (``traffic`` when it closes, ``labels`` when its labels have had time to
arrive); a second monitor process evaluating the same window leaves the first record."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from prodml.stores import schema
from prodml.stores.sql_base import SqlBase


class MonitorQueries(SqlBase):
    def set_monitor(self, model: str, spec: str, details: dict[str, Any]) -> None:
        table = schema.monitors
        now = time.time()
        with self.write() as connection:
            self.serialise(connection, f"monitor:{model}")
            connection.execute(table.delete().where(table.c.model == model))
            connection.execute(
                table.insert().values(model=model, spec=spec, updated_at=now, actor=self.user)
            )
            self.event(connection, "monitor.configured", ("model", model), None, details, now)

    def monitor_specs(self, model: str | None = None) -> dict[str, str]:
        table = schema.monitors
        query = sa.select(table.c.model, table.c.spec).order_by(table.c.model)
        if model is not None:
            query = query.where(table.c.model == model)
        with self.read() as connection:
            return {row.model: row.spec for row in connection.execute(query)}

    def add_window(self, row: dict[str, Any]) -> bool:
        """Store one evaluated window; False when another process stored it first."""
        table = schema.monitor_windows
        key = (table.c.model == row["model"], table.c.kind == row["kind"])
        with self.write() as connection:
            self.serialise(connection, f"window:{row['model']}:{row['kind']}:{row['start']}")
            known = connection.execute(
                sa.select(table.c.start).where(*key, table.c.start == row["start"])
            ).first()
            if known is not None:
                return False
            connection.execute(table.insert().values(**row, evaluated_at=time.time()))
        return True

    def last_window(self, model: str, kind: str) -> float | None:
        table = schema.monitor_windows
        query = sa.select(sa.func.max(table.c.start)).where(
            table.c.model == model, table.c.kind == kind
        )
        with self.read() as connection:
            value = connection.execute(query).scalar()
        return None if value is None else float(value)

    def windows(
        self,
        model: str,
        kind: str,
        before: float | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Evaluated windows, newest first, each with the state of the alert it raised
        (``alert_state``; None when it raised none)."""
        table, alerts = schema.monitor_windows, schema.alerts
        query = (
            sa.select(table, alerts.c.state.label("alert_state"))
            .select_from(table.outerjoin(alerts, alerts.c.id == table.c.alert_id))
            .where(table.c.model == model, table.c.kind == kind)
            .order_by(table.c.start.desc())
        )
        if before is not None:
            query = query.where(table.c.start < before)
        if since is not None:
            query = query.where(table.c.start >= since)
        if limit is not None:
            query = query.limit(limit)
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def mark_windows(self, model: str, kind: str, starts: list[float], alert_id: str) -> None:
        table = schema.monitor_windows
        with self.write() as connection:
            connection.execute(
                table.update()
                .where(table.c.model == model, table.c.kind == kind, table.c.start.in_(starts))
                .values(alert_id=alert_id)
            )
