"""Monitor specs and evaluated windows in the SQL store. A window is evaluated once
per kind (``traffic`` when it closes, ``labels`` when its labels have had time to
arrive); a second monitor process evaluating the same window leaves the first record."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from prodml.domain.ids import from_epoch
from prodml.domain.monitoring import AlertState, Window
from prodml.stores import schema, sql_base
from prodml.stores.sql_base import SqlBase


class MonitorQueries(SqlBase):
    def set_monitor(self, model: str, spec: str) -> None:
        """Declare (or replace) the monitor of ``model``: its spec as JSON text."""
        table = schema.monitors
        now = sql_base.now()
        with self.write() as connection:
            self.serialise(connection, f"monitor:{model}")
            connection.execute(table.delete().where(table.c.model == model))
            connection.execute(
                table.insert().values(model=model, spec=spec, updated_at=now, actor=self.user)
            )
            details = {"spec": spec}
            self.event(connection, "monitor.configured", ("model", model), None, details, now)

    def monitor_specs(self, model: str | None = None) -> dict[str, str]:
        """The spec (JSON text) of each monitor, by model name."""
        table = schema.monitors
        query = sa.select(table.c.model, table.c.spec).order_by(table.c.model)
        if model is not None:
            query = query.where(table.c.model == model)
        with self.read() as connection:
            return {row.model: row.spec for row in connection.execute(query)}

    def add_window(self, window: Window) -> bool:
        """Store one evaluated window; False when another process stored it first."""
        table = schema.monitor_windows
        key = (table.c.model == window.model, table.c.kind == window.kind)
        row = {
            "model": window.model,
            "kind": window.kind,
            "start": window.start,
            "end": window.end,
            "rows": window.rows,
            "profile": window.profile,
            "stats": json.dumps(window.stats),
            "evaluated_at": sql_base.now(),
        }
        with self.write() as connection:
            self.serialise(connection, f"window:{window.model}:{window.kind}:{window.start}")
            known = connection.execute(
                sa.select(table.c.start).where(*key, table.c.start == window.start)
            ).first()
            if known is not None:
                return False
            connection.execute(table.insert().values(**row))
        return True

    def last_window(self, model: str, kind: str) -> float | None:
        """The start of the newest evaluated window of this kind."""
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
    ) -> list[Window]:
        """Evaluated windows, newest first, each with the state of the alert it raised."""
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
            return [_window(row) for row in connection.execute(query).mappings()]

    def mark_windows(self, model: str, kind: str, starts: list[float], alert_id: str) -> None:
        """Record that these windows raised (or folded into) ``alert_id``."""
        table = schema.monitor_windows
        with self.write() as connection:
            connection.execute(
                table.update()
                .where(table.c.model == model, table.c.kind == kind, table.c.start.in_(starts))
                .values(alert_id=alert_id)
            )


def _window(row: Any) -> Window:
    return Window(
        model=row["model"],
        kind=row["kind"],
        start=float(row["start"]),
        end=float(row["end"]),
        rows=int(row["rows"]),
        profile=row["profile"],
        stats=json.loads(row["stats"]),
        evaluated_at=from_epoch(row["evaluated_at"]),
        alert_id=row["alert_id"],
        alert_state=None if row["alert_state"] is None else AlertState(row["alert_state"]),
    )
