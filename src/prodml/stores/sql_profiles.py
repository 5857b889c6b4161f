"""Stored profiles of dataset versions and the results of validations."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from prodml.domain.ids import from_epoch
from prodml.domain.validation import ValidationRecord
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
        result: Mapping[str, Any],
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

    def latest_validation(self, version_id: str) -> ValidationRecord | None:
        """The newest stored validation of a dataset version."""
        columns = schema.validations.c
        with self.read() as connection:
            row = connection.execute(
                sa.select(schema.validations)
                .where(columns.version_id == version_id)
                .order_by(columns.created_at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return ValidationRecord(
            id=row.id,
            version_id=row.version_id,
            subject=row.subject,
            against=row.against,
            alarm=bool(row.alarm),
            blocked=bool(row.blocked),
            result=json.loads(row.result),
            author=row.author,
            created_at=from_epoch(row.created_at),
        )


def _blob(connection: sa.Connection, version_id: str, partition_by: str) -> str | None:
    columns = schema.profiles.c
    row = connection.execute(
        sa.select(columns.blob).where(
            columns.version_id == version_id, columns.partition_by == partition_by
        )
    ).first()
    return None if row is None else str(row[0])
