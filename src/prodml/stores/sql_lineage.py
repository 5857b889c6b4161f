"""Lineage edges and the event log in the SQL store."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa

from prodml.domain.ids import from_epoch
from prodml.domain.lineage import Event
from prodml.errors import NotFoundError
from prodml.stores import schema
from prodml.stores.resolve import by_prefix
from prodml.stores.sql_base import SqlBase

NodeRef = tuple[str, str]


class LineageQueries(SqlBase):
    def link(
        self,
        connection: sa.Connection,
        source: NodeRef,
        target: NodeRef,
        relation: str,
        at: float | None = None,
    ) -> None:
        """Add one edge (idempotent) inside the write that creates it."""
        edges = schema.edges.c
        exists = connection.execute(
            sa.select(sa.literal(1)).where(
                edges.source_kind == source[0],
                edges.source_id == source[1],
                edges.target_kind == target[0],
                edges.target_id == target[1],
            )
        ).first()
        if exists is None:
            connection.execute(
                schema.edges.insert().values(
                    source_kind=source[0],
                    source_id=source[1],
                    target_kind=target[0],
                    target_id=target[1],
                    relation=relation,
                    created_at=at if at is not None else time.time(),
                )
            )

    def neighbours(
        self, node: NodeRef, upstream: bool, as_of: datetime | None = None
    ) -> list[tuple[NodeRef, str]]:
        """The nodes one edge away: what fed ``node`` (upstream) or what it fed."""
        edges = schema.edges.c
        here, there = (
            ((edges.target_kind, edges.target_id), (edges.source_kind, edges.source_id))
            if upstream
            else ((edges.source_kind, edges.source_id), (edges.target_kind, edges.target_id))
        )
        query = (
            sa.select(there[0], there[1], edges.relation)
            .where(here[0] == node[0], here[1] == node[1])
            .order_by(edges.created_at)
        )
        if as_of is not None:
            query = query.where(edges.created_at <= as_of.timestamp())
        with self.read() as connection:
            return [
                ((kind, ident), relation) for kind, ident, relation in connection.execute(query)
            ]

    def ids_with_prefix(self, prefix: str, hint: str) -> list[NodeRef]:
        """(kind, id) of every run, dataset version, model version, artifact and evaluation
        whose id starts with ``prefix`` (at most one of each kind; several of one kind
        is refused, naming them)."""
        columns = (
            ("run", schema.runs.c.id),
            ("dataset", schema.dataset_versions.c.id),
            ("model", schema.model_versions.c.id),
            ("artifact", schema.artifacts.c.id),
            ("evaluation", schema.evaluations.c.id),
        )
        found = []
        with self.read() as connection:
            for kind, column in columns:
                try:
                    found.append((kind, by_prefix(connection, column, prefix, kind, hint)))
                except NotFoundError:
                    continue
        return found

    def list_events(
        self,
        subject: NodeRef | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        actions: Sequence[str] = (),
        newest_first: bool = False,
    ) -> list[Event]:
        """Events oldest first (newest first on request, so that ``limit`` keeps the
        latest); ``actions`` keeps those whose action starts with one of these prefixes
        (``"model."``), chosen in the query so that a day of run events is never read to
        find a day's few model changes."""
        columns = schema.events.c
        order = (columns.at.desc(), columns.id.desc()) if newest_first else (columns.at, columns.id)
        query = sa.select(schema.events).order_by(*order)
        sqlite = self.dialect == "sqlite"
        if actions:
            query = query.where(sa.or_(*(_starts(columns.action, a, sqlite) for a in actions)))
        if subject is not None:
            query = query.where(
                columns.subject_kind == subject[0], columns.subject_id == subject[1]
            )
        if since is not None:
            query = query.where(columns.at >= since.timestamp())
        if until is not None:
            query = query.where(columns.at <= until.timestamp())
        if limit is not None:
            query = query.limit(limit)
        with self.read() as connection:
            return [
                Event(
                    id=row.id,
                    at=from_epoch(row.at),
                    actor=row.actor,
                    action=row.action,
                    subject_kind=row.subject_kind,
                    subject_id=row.subject_id,
                    reason=row.reason,
                    details=json.loads(row.details),
                )
                for row in connection.execute(query)
            ]

    def record_event(
        self,
        action: str,
        subject: NodeRef,
        reason: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        with self.write() as connection:
            self.event(connection, action, subject, reason, dict(details or {}))


def _starts(column: sa.ColumnElement[str], prefix: str, sqlite: bool) -> sa.ColumnElement[bool]:
    """``column`` starts with ``prefix``, in a form each database reads from an index:
    GLOB on SQLite (its LIKE ignores case, so no index on a binary column serves it);
    LIKE on PostgreSQL, through the index's pattern operators. The pattern is written
    into the statement (quoted by SQLAlchemy), not bound: PostgreSQL turns a constant
    ``'model.%'`` into a range on the (action, at) index, but not a parameter once the
    driver has prepared the statement and the server plans it generically (a scan of
    every event in the span: 50-70 ms on a month of 200,000 events, against 0.4 ms)."""
    if sqlite:
        escaped = "".join(f"[{c}]" if c in "*?[" else c for c in prefix)
        return column.op("GLOB")(sa.literal(f"{escaped}*", literal_execute=True))
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return column.like(sa.literal(f"{escaped}%", literal_execute=True), "/")
