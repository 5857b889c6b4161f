"""Stored profiles of dataset versions and the results of validations."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from prodml.stores import schema
from prodml.stores.sql_base import SqlBase


class ProfileQueries(SqlBase):
    def put_profile(self, version_id: str, partition_by: str, blob: str, partitions: int) -> None:
        """Record the blob holding a version's profile (or its partitions' profiles)."""
        with self.write() as connection:
            # two processes logging the same content profile the same version at once
            self.serialise(connection, f"profile:{version_id}:{partition_by}")
            if _blob(connection, version_id, partition_by) is None:
                connection.execute(
                    schema.profiles.insert().values(
                        version_id=version_id,
                        partition_by=partition_by,
                        blob=blob,
                        partitions=partitions,
                        created_at=time.time(),
                    )
                )

    def profile_blob(self, version_id: str, partition_by: str = "") -> str | None:
        with self.read() as connection:
            return _blob(connection, version_id, partition_by)

    def add_validation(
        self,
        validation_id: str,
        version_id: str | None,
        subject: str,
        against: str,
        result: dict[str, Any],
    ) -> None:
        """Store a validation result; one of a logged version is also an event."""
        now = time.time()
        with self.write() as connection:
            connection.execute(
                schema.validations.insert().values(
                    id=validation_id,
                    version_id=version_id,
                    subject=subject,
                    against=against,
                    alarm=bool(result["alarm"]),
                    blocked=bool(result["blocked"]),
                    result=json.dumps(result, default=str),
                    author=self.user,
                    created_at=now,
                )
            )
            if version_id is not None:
                self.event(
                    connection,
                    "dataset.validated",
                    ("dataset", version_id),
                    None,
                    {
                        "validation": validation_id,
                        "subject": subject,
                        "against": against,
                        "alarm": result["alarm"],
                        "blocked": result["blocked"],
                        "findings": len(result["findings"]),
                    },
                    now,
                )

    def latest_validation(self, version_id: str) -> dict[str, Any] | None:
        """The newest stored validation of a dataset version, as stored."""
        columns = schema.validations.c
        with self.read() as connection:
            row = connection.execute(
                sa.select(columns.id, columns.result, columns.created_at)
                .where(columns.version_id == version_id)
                .order_by(columns.created_at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return {"id": row.id, "created_at": row.created_at, **json.loads(row.result)}


def _blob(connection: sa.Connection, version_id: str, partition_by: str) -> str | None:
    columns = schema.profiles.c
    row = connection.execute(
        sa.select(columns.blob).where(
            columns.version_id == version_id, columns.partition_by == partition_by
        )
    ).first()
    return None if row is None else str(row[0])
