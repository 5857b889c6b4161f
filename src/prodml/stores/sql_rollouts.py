"""Rollouts in the SQL store. A rollout changes only by compare-and-set on its state
and step, so two controllers never both act on one step; every change is an event in
the same transaction.

A rollout's plan is stored resolved (its steps with their criteria) beside the
document it was read from, so reading a rollout back needs no plan reader."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from prodml.domain.hosts import Fence
from prodml.domain.ids import from_epoch
from prodml.domain.registry import AliasChange
from prodml.domain.rollout import ACTIVE_STATES, RUNNING, Criteria, Plan, Rollout, RoutingKey, Step
from prodml.errors import InvalidInputError, NotFoundError, RunStateError
from prodml.stores import counters, schema, sql_base
from prodml.stores.sql_hosts import fenced
from prodml.stores.sql_registry import RegistryQueries


class RolloutQueries(RegistryQueries):
    def add_rollout(
        self,
        *,
        rollout_id: str,
        model: str,
        candidate: int,
        baseline: int,
        plan: Plan,
        reason: str | None,
        details: Mapping[str, object],
    ) -> Rollout:
        """Start a rollout at its first step; refused while another rollout of the model
        is active."""
        table = schema.rollouts
        now = sql_base.now()
        values = {
            "id": rollout_id,
            "name": model,
            "candidate": candidate,
            "baseline": baseline,
            "plan": json.dumps(stored_plan(plan)),
            "state": RUNNING,
            "reason": reason,
            "step": 0,
            "step_started_at": now,
            "created_at": now,
            "updated_at": now,
            "actor": self.user,
        }
        with self.write() as connection:
            self.serialise(connection, f"model:{model}")
            active = connection.execute(
                sa.select(table.c.id, table.c.candidate).where(
                    table.c.name == model, table.c.state.in_(ACTIVE_STATES)
                )
            ).first()
            if active is not None:
                raise InvalidInputError(
                    f"Model {model!r} already has rollout {active.id[:12]} of "
                    f"v{active.candidate} in progress. Finish it first: prodml rollout "
                    f"promote|abort {model}"
                )
            connection.execute(table.insert().values(**values))
            self.event(
                connection, "rollout.started", ("rollout", rollout_id), reason, dict(details), now
            )
            counters.bump(connection, counters.ROUTING)
        return _rollout(values)

    def rollout(self, rollout_id: str) -> Rollout:
        table = schema.rollouts
        query = sa.select(table).where(table.c.id.startswith(rollout_id, autoescape=True))
        with self.read() as connection:
            rows = connection.execute(query.limit(2)).mappings().all()
        if len(rows) != 1:
            raise NotFoundError(
                f"No rollout {rollout_id!r}{' (ambiguous prefix)' if rows else ''}. "
                "List them: prodml rollout status"
            )
        return _rollout(rows[0])

    def rollouts(self, name: str | None = None, active: bool = False) -> list[Rollout]:
        """Rollouts, newest first: of one model, or only those running or paused."""
        table = schema.rollouts
        query = sa.select(table).order_by(table.c.created_at.desc())
        if name is not None:
            query = query.where(table.c.name == name)
        if active:
            query = query.where(table.c.state.in_(ACTIVE_STATES))
        with self.read() as connection:
            return [_rollout(row) for row in connection.execute(query).mappings()]

    def update_rollout(
        self,
        rollout: Rollout,
        *,
        action: str,
        reason: str | None,
        details: Mapping[str, object],
        state: str | None = None,
        step: int | None = None,
        move: AliasChange | None = None,
        fence: Fence | None = None,
    ) -> Rollout:
        """Set the rollout's ``state`` and ``step`` if it is still where ``rollout`` saw it
        (its state and step); with ``move``, move an alias in the same transaction; with
        ``fence``, only while that lease is still the token's."""
        table = schema.rollouts
        now = sql_base.now()
        values: dict[str, Any] = {"updated_at": now}
        if state is not None:
            values["state"] = state
        if step is not None:
            values["step"], values["step_started_at"] = step, now
        with self.write() as connection:
            fenced(connection, fence)
            done = connection.execute(
                table.update()
                .where(
                    table.c.id == rollout.id,
                    table.c.state == rollout.state,
                    table.c.step == rollout.step,
                )
                .values(**values)
            )
            if done.rowcount != 1:
                raise RunStateError(
                    f"Rollout {rollout.id[:12]} changed while this decision was made; "
                    "see: prodml rollout status"
                )
            self.event(connection, action, ("rollout", rollout.id), reason, dict(details), now)
            if move is not None:
                self.move_alias_in(
                    connection,
                    move.name,
                    move.alias,
                    move.version,
                    move.model_id,
                    move.reason,
                    move.forced,
                    move.evaluation_id,
                    move.verdict,
                    move.expected,
                )
            counters.bump(connection, counters.ROUTING)
            row = connection.execute(sa.select(table).where(table.c.id == rollout.id)).mappings()
            return _rollout(row.one())

    def routing_stamp(self) -> tuple[int, ...]:
        """Changes whenever any alias moves, any rollout changes or guardrails are attached,
        whatever the writers' clocks say: one indexed read, cheap to poll."""
        with self.read() as connection:
            return (counters.value(connection, counters.ROUTING),)


def _rollout(row: Any) -> Rollout:
    return Rollout(
        id=row["id"],
        model=row["name"],
        candidate=row["candidate"],
        baseline=row["baseline"],
        plan=_plan(json.loads(row["plan"]), row["id"]),
        state=row["state"],
        step=row["step"],
        step_started_at=from_epoch(row["step_started_at"]),
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
        actor=row["actor"],
        reason=row["reason"],
    )


def stored_plan(plan: Plan) -> dict[str, Any]:
    """The plan as a rollout row keeps it: the steps resolved, beside the document."""
    key = plan.routing_key
    return {
        "document": plan.document,
        "steps": [dataclasses.asdict(step) for step in plan.steps],
        "routing_key": None if key is None else {"source": key.source, "name": key.name},
    }


def _plan(stored: dict[str, Any], rollout_id: str) -> Plan:
    steps = tuple(
        Step(**{**step, "criteria": Criteria(**step["criteria"])}) for step in stored["steps"]
    )
    key = stored["routing_key"]
    routing = None if key is None else RoutingKey(key["source"], key["name"])
    return Plan(steps, routing, stored["document"])
