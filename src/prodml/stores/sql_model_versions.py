"""Listing the versions of a model, a page at a time (the dashboard's model page)."""

from __future__ import annotations

import sqlalchemy as sa

from prodml.domain.artifact import ModelVersion
from prodml.stores import schema
from prodml.stores.sql_artifacts import _model
from prodml.stores.sql_base import SqlBase

MAX_PAGE = 500


class ModelVersionQueries(SqlBase):
    def model_versions(
        self, name: str, limit: int = 100, before: int | None = None
    ) -> list[ModelVersion]:
        """Versions of ``name``, newest first: at most ``limit``, older than ``before``."""
        columns = schema.model_versions.c
        query = (
            sa.select(schema.model_versions)
            .where(columns.name == name)
            .order_by(columns.version.desc())
            .limit(max(1, min(int(limit), MAX_PAGE)))
        )
        if before is not None:
            query = query.where(columns.version < int(before))
        with self.read() as connection:
            return [_model(row) for row in connection.execute(query)]
