"""Rollouts and access tokens in the SQL store. A rollout changes only by
compare-and-set on its state and step, so two controllers never both act on one
step; every change is an event in the same transaction."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from prodml.errors import InvalidInputError, NotFoundError, RunStateError
from prodml.stores import counters, schema
from prodml.stores.sql_base import SqlBase

ACTIVE = ("running", "paused")


class RolloutQueries(SqlBase):
    def add_rollout(self, row: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
        """Store a new rollout; refused while another rollout of the model is active."""
        table = schema.rollouts
        now = time.time()
        values = {
            **row,
            "step": 0,
            "step_started_at": now,
            "created_at": now,
            "updated_at": now,
            "actor": self.user,
        }
        with self.write() as connection:
            self.serialise(connection, f"model:{row['name']}")
            active = connection.execute(
                sa.select(table.c.id, table.c.candidate).where(
                    table.c.name == row["name"], table.c.state.in_(ACTIVE)
                )
            ).first()
            if active is not None:
                raise InvalidInputError(
                    f"Model {row['name']!r} already has rollout {active.id[:12]} of "
                    f"v{active.candidate} in progress. Finish it first: prodml rollout "
                    f"promote|abort {row['name']}"
                )
            connection.execute(table.insert().values(**values))
            self.event(
                connection, "rollout.started", ("rollout", row["id"]), row.get("reason"), details,
                now,
            )  # fmt: skip
            counters.bump(connection, counters.ROUTING)
        return values

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        table = schema.rollouts
        query = sa.select(table).where(table.c.id.startswith(rollout_id, autoescape=True))
        with self.read() as connection:
            rows = connection.execute(query.limit(2)).mappings().all()
        if len(rows) != 1:
            raise NotFoundError(
                f"No rollout {rollout_id!r}{' (ambiguous prefix)' if rows else ''}. "
                "List them: prodml rollout status"
            )
        return dict(rows[0])

    def rollouts(self, name: str | None = None, active: bool = False) -> list[dict[str, Any]]:
        table = schema.rollouts
        query = sa.select(table).order_by(table.c.created_at.desc())
        if name is not None:
            query = query.where(table.c.name == name)
        if active:
            query = query.where(table.c.state.in_(ACTIVE))
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def update_rollout(
        self,
        rollout_id: str,
        expected: tuple[str, int],
        changes: dict[str, Any],
        action: str,
        reason: str | None,
        details: dict[str, Any],
        move: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply ``changes`` if the rollout is still in ``expected`` (state, step); with
        ``move`` (arguments of :meth:`move_alias`), move an alias in the same transaction."""
        table = schema.rollouts
        now = time.time()
        values = {**changes, "updated_at": now}
        if "step" in changes:
            values["step_started_at"] = now
        with self.write() as connection:
            done = connection.execute(
                table.update()
                .where(
                    table.c.id == rollout_id,
                    table.c.state == expected[0],
                    table.c.step == expected[1],
                )
                .values(**values)
            )
            if done.rowcount != 1:
                raise RunStateError(
                    f"Rollout {rollout_id[:12]} changed while this decision was made; "
                    "see: prodml rollout status"
                )
            self.event(connection, action, ("rollout", rollout_id), reason, details, now)
            if move is not None:
                self.move_alias_in(connection, **move)  # type: ignore[attr-defined]
            counters.bump(connection, counters.ROUTING)
            row = connection.execute(sa.select(table).where(table.c.id == rollout_id)).mappings()
            return dict(row.one())

    def routing_stamp(self) -> tuple[Any, ...]:
        """Changes whenever any alias moves, any rollout changes or guardrails are attached,
        whatever the writers' clocks say: one indexed read, cheap to poll."""
        with self.read() as connection:
            return (counters.value(connection, counters.ROUTING),)

    def add_token(self, name: str, digest: str, role: str) -> None:
        table = schema.tokens
        with self.write() as connection:
            exists = connection.execute(sa.select(table.c.name).where(table.c.name == name))
            if exists.first() is not None:
                raise InvalidInputError(
                    f"A token named {name!r} exists. Revoke it first (prodml tokens revoke "
                    f"{name}) or choose another name."
                )
            connection.execute(
                table.insert().values(
                    name=name, digest=digest, role=role, created_at=time.time(), actor=self.user
                )
            )
            self.event(connection, "token.created", ("token", name), None, {"role": role})

    def token(self, digest: str) -> dict[str, Any] | None:
        table = schema.tokens
        query = sa.select(table).where(table.c.digest == digest, table.c.revoked_at.is_(None))
        with self.read() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else dict(row)

    def tokens(self) -> list[dict[str, Any]]:
        table = schema.tokens
        with self.read() as connection:
            rows = connection.execute(sa.select(table).order_by(table.c.name)).mappings()
            return [{k: v for k, v in row.items() if k != "digest"} for row in rows]

    def revoke_token(self, name: str) -> None:
        table = schema.tokens
        with self.write() as connection:
            done = connection.execute(
                table.update()
                .where(table.c.name == name, table.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
            if done.rowcount != 1:
                raise NotFoundError(f"No active token {name!r}. List them: prodml tokens list")
            self.event(connection, "token.revoked", ("token", name))
