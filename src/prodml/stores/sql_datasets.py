"""Dataset versions and their files in the SQL store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

import sqlalchemy as sa

from prodml.domain.dataset import ColumnSummary, DatasetKind, DatasetVersion, FileEntry
from prodml.domain.ids import from_epoch
from prodml.stores import driver, schema
from prodml.stores.resolve import one_version
from prodml.stores.sql_lineage import LineageQueries, NodeRef

DATASETS_HINT = "List datasets: prodml datasets list"


class DatasetQueries(LineageQueries):
    def add_dataset_version(
        self,
        version: DatasetVersion,
        blob: str | None,
        files: list[FileEntry],
        sources: Sequence[tuple[NodeRef, str]] = (),
    ) -> tuple[DatasetVersion, bool]:
        """Store a version unless the same content is already under this name, and
        link each ``(node, relation)`` of ``sources`` to it in the same write.

        Returns the stored version and whether it is new."""
        columns = schema.dataset_versions.c
        with self.write() as connection:
            self.serialise(connection, f"dataset:{version.name}")
            existing = connection.execute(
                sa.select(schema.dataset_versions).where(
                    columns.name == version.name, columns.id == version.id
                )
            ).first()
            for source, relation in sources:
                self.link(connection, source, ("dataset", version.id), relation)
            if existing is not None:
                return _version(existing), False
            latest = connection.execute(
                sa.select(sa.func.max(columns.version)).where(columns.name == version.name)
            ).scalar()
            stored = replace(version, version=(latest or 0) + 1)
            connection.execute(schema.dataset_versions.insert().values(**_row(stored, blob)))
            self._insert_files(connection, stored.id, files)
            self.event(
                connection,
                "dataset.logged",
                ("dataset", stored.id),
                None,
                {
                    "name": stored.name,
                    "version": stored.version,
                    "rows": stored.num_rows,
                    "files": stored.num_files,
                    "bytes": stored.num_bytes,
                },
                stored.created_at.timestamp(),
            )
        return stored, True

    def _insert_files(self, connection: sa.Connection, digest: str, files: list[FileEntry]) -> None:
        if not files:
            return
        known = connection.execute(
            sa.select(sa.literal(1)).where(schema.dataset_files.c.version_id == digest).limit(1)
        ).first()
        if known is None:
            driver.execute_many(
                connection,
                "INSERT INTO dataset_files (version_id, path, digest, size, pack, pack_offset)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",  # same files, other name
                [(digest, f.path, f.digest, f.size, f.pack, f.offset) for f in files],
            )

    def get_dataset_version(self, name: str, version: str | None = None) -> DatasetVersion:
        """``version`` is a number, ``latest`` (or None), or a digest prefix."""
        with self.read() as connection:
            row = one_version(connection, schema.dataset_versions, name, version, DATASETS_HINT)
        return _version(row)

    def dataset_versions_by_digest(self, digest_prefix: str) -> list[DatasetVersion]:
        columns = schema.dataset_versions.c
        query = (
            sa.select(schema.dataset_versions)
            .where(columns.id.startswith(digest_prefix.lower(), autoescape=True))
            .order_by(columns.created_at)
        )
        with self.read() as connection:
            return [_version(row) for row in connection.execute(query)]

    def list_dataset_versions(self, name: str | None = None) -> list[DatasetVersion]:
        columns = schema.dataset_versions.c
        query = sa.select(schema.dataset_versions).order_by(columns.name, columns.version)
        if name is not None:
            query = query.where(columns.name == name)
        with self.read() as connection:
            return [_version(row) for row in connection.execute(query)]

    def dataset_blob(self, version: DatasetVersion) -> str | None:
        columns = schema.dataset_versions.c
        query = sa.select(columns.blob).where(
            columns.name == version.name, columns.version == version.version
        )
        with self.read() as connection:
            return connection.execute(query).scalar()

    def dataset_files(self, digest: str) -> list[FileEntry]:
        files = schema.dataset_files.c
        query = sa.select(
            files.path, files.digest, files.size, files.pack, files.pack_offset
        ).where(files.version_id == digest)
        with self.read() as connection:
            return [_file(row) for row in connection.execute(query.order_by(files.path))]

    def stored_files(self, digests: list[str]) -> dict[str, FileEntry]:
        """Where files with these digests are already stored (by any dataset version)."""
        files = schema.dataset_files.c
        found: dict[str, FileEntry] = {}
        with self.read() as connection:
            for start in range(0, len(digests), 500):
                query = sa.select(
                    files.path, files.digest, files.size, files.pack, files.pack_offset
                ).where(files.digest.in_(digests[start : start + 500]))
                for row in connection.execute(query):
                    found[row.digest] = _file(row)
        return found


def _row(version: DatasetVersion, blob: str | None) -> dict[str, Any]:
    return {
        "id": version.id,
        "name": version.name,
        "version": version.version,
        "kind": version.kind.value,
        "author": version.author,
        "created_at": version.created_at.timestamp(),
        "num_rows": version.num_rows,
        "num_files": version.num_files,
        "num_bytes": version.num_bytes,
        "schema": json.dumps(version.schema),
        "key": json.dumps(list(version.key)),
        "columns": json.dumps([asdict(c) for c in version.columns], default=str),
        "source": version.source,
        "blob": blob,
    }


def _version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        id=row.id,
        name=row.name,
        version=row.version,
        kind=DatasetKind(row.kind),
        author=row.author,
        created_at=from_epoch(row.created_at),
        num_rows=row.num_rows,
        num_files=row.num_files,
        num_bytes=row.num_bytes,
        schema=json.loads(row.schema),
        columns=tuple(ColumnSummary(**c) for c in json.loads(row.columns)),
        key=tuple(json.loads(row.key)),
        source=row.source,
    )


def _file(row: Any) -> FileEntry:
    return FileEntry(
        path=row.path, digest=row.digest, size=row.size, pack=row.pack, offset=row.pack_offset
    )
