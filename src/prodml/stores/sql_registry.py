"""The registry in the SQL store: alias moves (append-only, so any past state can be
read back), protected aliases, tags, and the list of model names."""

from __future__ import annotations

import time
from typing import Any, Literal

import sqlalchemy as sa

from prodml.domain.ids import from_epoch
from prodml.domain.registry import PROTECTED_BY_DEFAULT, AliasMove, RegisteredModel, Tag
from prodml.errors import RunStateError
from prodml.stores import counters, schema
from prodml.stores.sql_base import SqlBase


class RegistryQueries(SqlBase):
    def move_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        model_id: str,
        reason: str | None = None,
        forced: bool = False,
        evaluation_id: str | None = None,
        verdict: str | None = None,
        expected: int | Literal["any"] | None = "any",
    ) -> AliasMove:
        """Point ``alias`` of ``name`` at ``version`` (None removes it), as one record and
        one event in the same transaction. With ``expected``, refuse if the alias no
        longer points where it did when the move was decided (say, by a gate)."""
        with self.write() as connection:
            return self.move_alias_in(
                connection, name, alias, version, model_id, reason, forced, evaluation_id,
                verdict, expected,
            )  # fmt: skip

    def move_alias_in(
        self,
        connection: sa.Connection,
        name: str,
        alias: str,
        version: int | None,
        model_id: str,
        reason: str | None = None,
        forced: bool = False,
        evaluation_id: str | None = None,
        verdict: str | None = None,
        expected: int | Literal["any"] | None = "any",
    ) -> AliasMove:
        """:meth:`move_alias` inside a write transaction the caller holds."""
        now = time.time()
        self.serialise(connection, f"model:{name}")
        previous = _current(connection, name, alias, None)
        if expected != "any" and previous != expected:
            was = f"v{expected}" if expected else "unset"
            raise RunStateError(
                f"{name}@{alias} moved to v{previous} while v{version} was judged against "
                f"{was}. Run the promotion again to judge it against the new holder."
            )
        connection.execute(
            schema.alias_moves.insert().values(
                name=name,
                alias=alias,
                version=version,
                previous=previous,
                at=now,
                actor=self.user,
                reason=reason,
                forced=forced,
                evaluation_id=evaluation_id,
                verdict=verdict,
            )
        )
        self.event(
            connection,
            "model.alias_forced" if forced else "model.alias_moved",
            ("model", model_id),
            reason,
            {
                "name": name,
                "alias": alias,
                "from": previous,
                "to": version,
                "evaluation": evaluation_id,
                "verdict": verdict,
            },
            now,
        )
        counters.bump(connection, counters.ROUTING)
        return AliasMove(
            model=name,
            alias=alias,
            version=version,
            previous=previous,
            at=from_epoch(now),
            actor=self.user,
            reason=reason,
            forced=forced,
            evaluation_id=evaluation_id,
            verdict=verdict,
        )

    def alias_version(self, name: str, alias: str, as_of: float | None = None) -> int | None:
        with self.read() as connection:
            return _current(connection, name, alias, as_of)

    def aliases(self, name: str, as_of: float | None = None) -> dict[str, int]:
        """Every alias of ``name`` and its version, now or at ``as_of``."""
        state: dict[str, int | None] = {}
        for move in self.alias_moves(name, until=as_of):
            state[move.alias] = move.version
        return {alias: version for alias, version in state.items() if version is not None}

    def alias_moves(self, name: str | None = None, until: float | None = None) -> list[AliasMove]:
        columns = schema.alias_moves.c
        query = sa.select(schema.alias_moves).order_by(columns.at, columns.id)
        if name is not None:
            query = query.where(columns.name == name)
        if until is not None:
            query = query.where(columns.at <= until)
        with self.read() as connection:
            return [_move(row) for row in connection.execute(query)]

    def set_protected(self, name: str, alias: str, protected: bool) -> None:
        table = schema.protected_aliases
        with self.write() as connection:
            connection.execute(table.delete().where(table.c.name == name, table.c.alias == alias))
            connection.execute(
                table.insert().values(
                    name=name, alias=alias, protected=protected, actor=self.user, at=time.time()
                )
            )
            self.event(
                connection,
                "model.alias_protected" if protected else "model.alias_unprotected",
                ("model_name", name),
                None,
                {"alias": alias},
            )

    def protected(self, name: str) -> frozenset[str]:
        table = schema.protected_aliases
        chosen = set(PROTECTED_BY_DEFAULT)
        with self.read() as connection:
            for row in connection.execute(sa.select(table).where(table.c.name == name)):
                (chosen.add if row.protected else chosen.discard)(row.alias)
        return frozenset(chosen | set(PROTECTED_BY_DEFAULT))  # champion always, whatever an
        # older store recorded

    def set_tag(self, model_id: str, key: str, value: str) -> None:
        table = schema.model_tags
        with self.write() as connection:
            connection.execute(
                table.delete().where(table.c.model_id == model_id, table.c.key == key)
            )
            connection.execute(
                table.insert().values(
                    model_id=model_id, key=key, value=value, actor=self.user, at=time.time()
                )
            )
            self.event(connection, "model.tagged", ("model", model_id), None, {key: value})

    def tags(self, model_id: str) -> list[Tag]:
        tags, versions = schema.model_tags, schema.model_versions
        query = (
            sa.select(tags, versions.c.name, versions.c.version)
            .join(versions, versions.c.id == tags.c.model_id)
            .where(tags.c.model_id == model_id)
            .order_by(tags.c.key)
        )
        with self.read() as connection:
            return [
                Tag(
                    model=row.name,
                    version=row.version,
                    key=row.key,
                    value=row.value,
                    at=from_epoch(row.at),
                    actor=row.actor,
                )
                for row in connection.execute(query)
            ]

    def registered_models(self) -> list[RegisteredModel]:
        versions = schema.model_versions.c
        query = (
            sa.select(
                versions.name,
                sa.func.max(versions.version).label("versions"),
                sa.func.max(versions.created_at).label("latest"),
            )
            .group_by(versions.name)
            .order_by(versions.name)
        )
        with self.read() as connection:
            rows = connection.execute(query).all()
        return [
            RegisteredModel(
                name=row.name,
                versions=row.versions,
                latest_at=from_epoch(row.latest),
                aliases=self.aliases(row.name),
                protected=self.protected(row.name),
            )
            for row in rows
        ]


def _current(connection: sa.Connection, name: str, alias: str, as_of: float | None) -> int | None:
    columns = schema.alias_moves.c
    query = (
        sa.select(columns.version)
        .where(columns.name == name, columns.alias == alias)
        .order_by(columns.at.desc(), columns.id.desc())
        .limit(1)
    )
    if as_of is not None:
        query = query.where(columns.at <= as_of)
    value: Any = connection.execute(query).scalar()
    return value if value is None else int(value)


def _move(row: Any) -> AliasMove:
    return AliasMove(
        model=row.name,
        alias=row.alias,
        version=row.version,
        previous=row.previous,
        at=from_epoch(row.at),
        actor=row.actor,
        reason=row.reason,
        forced=bool(row.forced),
        evaluation_id=row.evaluation_id,
        verdict=row.verdict,
    )
