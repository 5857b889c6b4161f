"""Access tokens in the SQL store: a name, a role and the token's digest, which is
how a token is found and never handed out."""

from __future__ import annotations

import hmac
from typing import Any

import sqlalchemy as sa

from prodml.domain.ids import from_epoch
from prodml.domain.token import TokenRecord
from prodml.errors import InvalidInputError, NotFoundError
from prodml.stores import schema, sql_base
from prodml.stores.sql_base import SqlBase


class TokenQueries(SqlBase):
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
                    name=name, digest=digest, role=role, created_at=sql_base.now(), actor=self.user
                )
            )
            self.event(connection, "token.created", ("token", name), None, {"role": role})

    def token(self, digest: str) -> TokenRecord | None:
        """The active token with this digest (found by the indexed column, then compared
        in constant time)."""
        table = schema.tokens
        query = sa.select(table).where(table.c.digest == digest, table.c.revoked_at.is_(None))
        with self.read() as connection:
            row = connection.execute(query).mappings().first()
        if row is None or not hmac.compare_digest(str(row["digest"]), digest):
            return None
        return _token(row)

    def tokens(self) -> list[TokenRecord]:
        """Every token by name, revoked ones too."""
        table = schema.tokens
        with self.read() as connection:
            rows = connection.execute(sa.select(table).order_by(table.c.name)).mappings()
            return [_token(row) for row in rows]

    def revoke_token(self, name: str) -> None:
        table = schema.tokens
        with self.write() as connection:
            done = connection.execute(
                table.update()
                .where(table.c.name == name, table.c.revoked_at.is_(None))
                .values(revoked_at=sql_base.now())
            )
            if done.rowcount != 1:
                raise NotFoundError(f"No active token {name!r}. List them: prodml tokens list")
            self.event(connection, "token.revoked", ("token", name))


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        name=row["name"],
        role=row["role"],
        created_at=from_epoch(row["created_at"]),
        actor=row["actor"],
        revoked_at=None if row["revoked_at"] is None else from_epoch(row["revoked_at"]),
    )
