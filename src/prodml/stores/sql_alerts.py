"""Alerts and incidents in the SQL store; every decision on them is an event in the
same transaction, so an incident's timeline is a query over the event log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from prodml.domain.monitoring import Alert, AlertClass, AlertState, Incident, Signal, at
from prodml.errors import InvalidInputError, NotFoundError
from prodml.stores import schema, sql_base
from prodml.stores.sql_base import SqlBase


class AlertQueries(SqlBase):
    def add_alert(self, alert: Alert, signals_found: int) -> Alert:
        """Store a new alert and return it as stored; ``signals_found`` counts every
        signal that raised it (the alert keeps the gravest of them)."""
        details = {
            "model": alert.model,
            "class": alert.kind.value,
            "severity": alert.severity,
            "window_start": alert.window_start.isoformat(),
            "signals": signals_found,
        }
        row = _alert_row(alert)
        with self.write() as connection:
            connection.execute(schema.alerts.insert().values(**row))
            self.event(
                connection,
                "alert.raised",
                ("alert", alert.id),
                alert.title,
                details,
                row["created_at"],
            )
        return _alert(row)

    def update_alert(self, alert: Alert) -> Alert:
        """Store what later windows folded into ``alert``: its signals, the windows it
        covers, its class, severity and title (decisions on it are left as they are).
        Returns it as stored."""
        folded = ("signals", "window_start", "window_end", "windows", "kind", "severity", "title")
        row = _alert_row(alert)
        table = schema.alerts
        with self.write() as connection:
            connection.execute(
                table.update().where(table.c.id == alert.id).values(**{k: row[k] for k in folded})
            )
        return _alert(row)

    def alert(self, alert_id: str) -> Alert:
        return _alert(self._one(schema.alerts, alert_id, "alert", "prodml alerts list"))

    def alerts(
        self,
        model: str | None = None,
        states: tuple[str, ...] = (),
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
        ids: Sequence[str] = (),
    ) -> list[Alert]:
        """Alerts whose windows end at or after ``since`` (and start before ``until``),
        newest first; with ``ids``, only those (one query for an incident's alerts)."""
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
        if ids:
            query = query.where(table.c.id.in_(list(ids)))
        if limit is not None:
            query = query.limit(limit)
        with self.read() as connection:
            return [_alert(row) for row in connection.execute(query).mappings()]

    def decide_alert(self, alert_id: str, state: AlertState, why: str) -> Alert:
        alert = self.alert(alert_id)
        table = schema.alerts
        now = sql_base.now()
        with self.write() as connection:
            connection.execute(
                table.update()
                .where(table.c.id == alert.id)
                .values(state=state.value, why=why, decided_by=self.user, decided_at=now)
            )
            self.event(
                connection,
                f"alert.{state.value}",
                ("alert", alert.id),
                why,
                {"model": alert.model, "was": alert.state.value},
                now,
            )
        return self.alert(alert.id)

    def add_incident(self, incident: Incident) -> None:
        """Store a new incident; its alerts now belong to it."""
        alert_ids = list(incident.alert_ids)
        with self.write() as connection:
            connection.execute(schema.incidents.insert().values(**_incident_row(incident)))
            if alert_ids:
                alerts = schema.alerts
                connection.execute(
                    alerts.update()
                    .where(alerts.c.id.in_(alert_ids))
                    .values(incident_id=incident.id)
                )
            self.event(
                connection,
                "incident.opened",
                ("incident", incident.id),
                incident.title,
                {"model": incident.model, "alerts": alert_ids},
                incident.opened_at.timestamp(),
            )

    def incident(self, incident_id: str) -> Incident:
        row = self._one(schema.incidents, incident_id, "incident", "prodml incidents list")
        return _incident(row)

    def incidents(
        self, model: str | None = None, state: str | None = None, since: float | None = None
    ) -> list[Incident]:
        table = schema.incidents
        query = sa.select(table).order_by(table.c.opened_at.desc())
        if model is not None:
            query = query.where(table.c.model == model)
        if state is not None:
            query = query.where(table.c.state == state)
        if since is not None:
            query = query.where(sa.or_(table.c.closed_at.is_(None), table.c.closed_at >= since))
        with self.read() as connection:
            return [_incident(row) for row in connection.execute(query).mappings()]

    def close_incident(self, incident_id: str, resolution: str) -> Incident:
        incident = self.incident(incident_id)
        if incident.state == "closed":
            raise InvalidInputError(
                f"Incident {incident.id[:8]} was closed already. See: prodml incidents show "
                f"{incident.id[:8]}"
            )
        table = schema.incidents
        now = sql_base.now()
        with self.write() as connection:
            connection.execute(
                table.update()
                .where(table.c.id == incident.id)
                .values(state="closed", closed_at=now, resolution=resolution)
            )
            self.event(
                connection,
                "incident.closed",
                ("incident", incident.id),
                resolution,
                {"model": incident.model},
                now,
            )
        return self.incident(incident.id)

    def _one(self, table: sa.Table, prefix: str, noun: str, listing: str) -> Any:
        query = sa.select(table).where(table.c.id.startswith(prefix, autoescape=True)).limit(2)
        with self.read() as connection:
            rows = connection.execute(query).mappings().all() if prefix else []
        if len(rows) != 1:
            raise NotFoundError(
                f"No {noun} {prefix!r}{' (ambiguous prefix: give more of it)' if rows else ''}. "
                f"List them: {listing}"
            )
        return rows[0]


def _alert(row: Any) -> Alert:
    return Alert(
        id=row["id"],
        model=row["model"],
        kind=AlertClass(row["kind"]),
        severity=row["severity"],
        title=row["title"],
        signals=tuple(Signal.from_dict(s) for s in json.loads(row["signals"])),
        window_start=at(row["window_start"]),
        window_end=at(row["window_end"]),
        windows=row["windows"],
        state=AlertState(row["state"]),
        created_at=at(row["created_at"]),
        context=json.loads(row["context"]),
        decided_by=row["decided_by"],
        decided_at=at(row["decided_at"]) if row["decided_at"] else None,
        why=row["why"],
        incident_id=row["incident_id"],
    )


def _alert_row(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "model": alert.model,
        "kind": alert.kind.value,
        "severity": alert.severity,
        "title": alert.title,
        "signals": json.dumps([s.to_dict() for s in alert.signals], default=str),
        "window_start": alert.window_start.timestamp(),
        "window_end": alert.window_end.timestamp(),
        "windows": alert.windows,
        "state": alert.state.value,
        "created_at": alert.created_at.timestamp(),
        "context": json.dumps(alert.context, default=str),
        "decided_by": alert.decided_by,
        "decided_at": alert.decided_at.timestamp() if alert.decided_at else None,
        "why": alert.why,
        "incident_id": alert.incident_id,
    }


def _incident(row: Any) -> Incident:
    return Incident(
        id=row["id"],
        model=row["model"],
        title=row["title"],
        state=row["state"],
        opened_at=at(row["opened_at"]),
        opened_by=row["opened_by"],
        alert_ids=tuple(json.loads(row["alert_ids"])),
        closed_at=at(row["closed_at"]) if row["closed_at"] else None,
        resolution=row["resolution"],
    )


def _incident_row(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "model": incident.model,
        "title": incident.title,
        "state": incident.state,
        "opened_at": incident.opened_at.timestamp(),
        "opened_by": incident.opened_by,
        "alert_ids": json.dumps(list(incident.alert_ids)),
        "closed_at": incident.closed_at.timestamp() if incident.closed_at else None,
        "resolution": incident.resolution,
    }
