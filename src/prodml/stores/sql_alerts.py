"""Alerts and incidents in the SQL store; every decision on them is an event in the
same transaction, so an incident's timeline is a query over the event log."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from prodml.errors import InvalidInputError, NotFoundError
from prodml.stores import schema
from prodml.stores.sql_base import SqlBase


class AlertQueries(SqlBase):
    def add_alert(self, row: dict[str, Any], details: dict[str, Any]) -> None:
        with self.write() as connection:
            connection.execute(schema.alerts.insert().values(**row))
            self.event(
                connection, "alert.raised", ("alert", row["id"]), row["title"], details,
                row["created_at"],
            )  # fmt: skip

    def update_alert(self, alert_id: str, changes: dict[str, Any]) -> None:
        table = schema.alerts
        with self.write() as connection:
            connection.execute(table.update().where(table.c.id == alert_id).values(**changes))

    def alert(self, alert_id: str) -> dict[str, Any]:
        return self._one(schema.alerts, alert_id, "alert", "prodml alerts list")

    def alerts(
        self,
        model: str | None = None,
        states: tuple[str, ...] = (),
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts whose windows end at or after ``since`` (and start before ``until``),
        newest first."""
        table = schema.alerts
        query = sa.select(table).order_by(table.c.window_end.desc(), table.c.created_at.desc())
        if model is not None:
            query = query.where(table.c.model == model)
        if states:
            query = query.where(table.c.state.in_(states))
        if since is not None:
            query = query.where(table.c.window_end >= since)
        if until is not None:
            query = query.where(table.c.window_start < until)
        if limit is not None:
            query = query.limit(limit)
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def decide_alert(self, alert_id: str, state: str, why: str) -> dict[str, Any]:
        row = self.alert(alert_id)
        table = schema.alerts
        now = time.time()
        with self.write() as connection:
            connection.execute(
                table.update()
                .where(table.c.id == row["id"])
                .values(state=state, why=why, decided_by=self.user, decided_at=now)
            )
            self.event(
                connection, f"alert.{state}", ("alert", row["id"]), why,
                {"model": row["model"], "was": row["state"]}, now,
            )  # fmt: skip
        return self.alert(row["id"])

    def add_incident(self, row: dict[str, Any], alert_ids: list[str]) -> None:
        with self.write() as connection:
            connection.execute(schema.incidents.insert().values(**row))
            if alert_ids:
                alerts = schema.alerts
                connection.execute(
                    alerts.update().where(alerts.c.id.in_(alert_ids)).values(incident_id=row["id"])
                )
            self.event(
                connection, "incident.opened", ("incident", row["id"]), row["title"],
                {"model": row["model"], "alerts": alert_ids}, row["opened_at"],
            )  # fmt: skip

    def incident(self, incident_id: str) -> dict[str, Any]:
        return self._one(schema.incidents, incident_id, "incident", "prodml incidents list")

    def incidents(
        self, model: str | None = None, state: str | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        table = schema.incidents
        query = sa.select(table).order_by(table.c.opened_at.desc())
        if model is not None:
            query = query.where(table.c.model == model)
        if state is not None:
            query = query.where(table.c.state == state)
        if since is not None:
            query = query.where(sa.or_(table.c.closed_at.is_(None), table.c.closed_at >= since))
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def close_incident(self, incident_id: str, resolution: str) -> dict[str, Any]:
        row = self.incident(incident_id)
        if row["state"] == "closed":
            raise InvalidInputError(
                f"Incident {row['id'][:8]} was closed already. See: prodml incidents show "
                f"{row['id'][:8]}"
            )
        table = schema.incidents
        now = time.time()
        with self.write() as connection:
            connection.execute(
                table.update()
                .where(table.c.id == row["id"])
                .values(state="closed", closed_at=now, resolution=resolution)
            )
            self.event(
                connection, "incident.closed", ("incident", row["id"]), resolution,
                {"model": row["model"]}, now,
            )  # fmt: skip
        return self.incident(row["id"])

    def _one(self, table: sa.Table, prefix: str, noun: str, listing: str) -> dict[str, Any]:
        query = sa.select(table).where(table.c.id.startswith(prefix, autoescape=True)).limit(2)
        with self.read() as connection:
            rows = connection.execute(query).mappings().all() if prefix else []
        if len(rows) != 1:
            raise NotFoundError(
                f"No {noun} {prefix!r}{' (ambiguous prefix: give more of it)' if rows else ''}. "
                f"List them: {listing}"
            )
        return dict(rows[0])
