"""Artifacts, model versions and blob references in the SQL store."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from prodml.domain.artifact import Artifact, ModelVersion
from prodml.domain.ids import from_epoch, new_id
from prodml.errors import ECHOED, InvalidInputError, NotFoundError, echoed
from prodml.stores import schema
from prodml.stores.resolve import one_version
from prodml.stores.sql_lineage import LineageQueries


class ArtifactQueries(LineageQueries):
    def insert_artifact(self, connection: sa.Connection, artifact: Artifact, relation: str) -> None:
        created = artifact.created_at.timestamp()
        connection.execute(
            schema.artifacts.insert().values(
                id=artifact.id,
                owner_kind=artifact.owner_kind,
                owner_id=artifact.owner_id,
                name=artifact.name,
                digest=artifact.digest,
                size=artifact.size,
                media_type=artifact.media_type,
                created_at=created,
            )
        )
        owner = (artifact.owner_kind, artifact.owner_id)
        self.link(connection, owner, ("artifact", artifact.id), relation, created)

    def add_artifact(self, artifact: Artifact) -> None:
        with self.write() as connection:
            self.insert_artifact(connection, artifact, "produced")
            self.event(
                connection,
                "artifact.logged",
                ("artifact", artifact.id),
                None,
                {"name": artifact.name, "digest": artifact.digest, "owner": artifact.owner_id},
            )

    def list_artifacts(self, owner_kind: str, owner_id: str) -> list[Artifact]:
        columns = schema.artifacts.c
        query = (
            sa.select(schema.artifacts)
            .where(columns.owner_kind == owner_kind, columns.owner_id == owner_id)
            .order_by(columns.created_at)
        )
        with self.read() as connection:
            return [_artifact(row) for row in connection.execute(query)]

    def get_artifact(self, artifact_id: str) -> Artifact:
        query = sa.select(schema.artifacts).where(schema.artifacts.c.id == artifact_id)
        with self.read() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise NotFoundError(
                f"No artifact {artifact_id!r} in this store. See: prodml runs show RUN"
            )
        return _artifact(row)

    def add_model_version(self, model: ModelVersion) -> ModelVersion:
        """Store a model under the next version of its name, linked to its run."""
        columns = schema.model_versions.c
        created = model.created_at.timestamp()
        with self.write() as connection:
            self.serialise(connection, f"model:{model.name}")
            latest = connection.execute(
                sa.select(sa.func.max(columns.version)).where(columns.name == model.name)
            ).scalar()
            version = (latest or 0) + 1
            model_id = new_id()
            connection.execute(
                schema.model_versions.insert().values(
                    id=model_id,
                    name=model.name,
                    version=version,
                    run_id=model.run_id,
                    digest=model.digest,
                    flavor=model.flavor,
                    author=model.author,
                    created_at=created,
                    signature=json.dumps(model.signature, sort_keys=True),
                    environment=json.dumps(model.environment, sort_keys=True),
                )
            )
            self.link(connection, ("run", model.run_id), ("model", model_id), "produced", created)
            self.event(
                connection,
                "model.logged",
                ("model", model_id),
                None,
                {"name": model.name, "version": version, "run": model.run_id},
                created,
            )
        return self.get_model_version(model.name, str(version))

    def import_model_versions(
        self, models: Sequence[ModelVersion], tags: Mapping[str, Mapping[str, str]], source: str
    ) -> None:
        """Store model versions recorded elsewhere under their own ids, numbers and times,
        each linked to its run, and set the ``tags`` given by model id, in one transaction.
        A version already stored under its id only has its tags set; a number another
        version of the name already holds is refused, naming it."""
        columns = schema.model_versions.c
        with self.write() as connection:
            for model in models:
                self.serialise(connection, f"model:{model.name}")
                holder = connection.execute(
                    sa.select(columns.id).where(
                        columns.name == model.name, columns.version == model.version
                    )
                ).scalar()
                if holder == model.id:
                    continue
                if holder is not None:
                    raise InvalidInputError(
                        f"Model {model.ref} is already in this store (id {holder[:12]}), not as "
                        f"the version imported from {source}. Import under other names "
                        "(a model name prefix) or into another store."
                    )
                self._insert_model(connection, model, source)
            for model_id, pairs in tags.items():
                self._replace_tags(connection, model_id, pairs)

    def _insert_model(self, connection: sa.Connection, model: ModelVersion, source: str) -> None:
        created = model.created_at.timestamp()
        connection.execute(
            schema.model_versions.insert().values(
                id=model.id,
                name=model.name,
                version=model.version,
                run_id=model.run_id,
                digest=model.digest,
                flavor=model.flavor,
                author=model.author,
                created_at=created,
                signature=json.dumps(model.signature, sort_keys=True),
                environment=json.dumps(model.environment, sort_keys=True),
            )
        )
        self.link(connection, ("run", model.run_id), ("model", model.id), "produced", created)
        self.event(
            connection,
            "model.imported",
            ("model", model.id),
            None,
            {"name": model.name, "version": model.version, "run": model.run_id, "source": source},
        )

    def _replace_tags(
        self, connection: sa.Connection, model_id: str, pairs: Mapping[str, str]
    ) -> None:
        table = schema.model_tags
        if not pairs:
            return
        connection.execute(
            table.delete().where(table.c.model_id == model_id, table.c.key.in_(list(pairs)))
        )
        at = time.time()
        connection.execute(
            table.insert(),
            [
                {"model_id": model_id, "key": k, "value": v, "actor": self.user, "at": at}
                for k, v in pairs.items()
            ],
        )

    def get_model_version(self, name: str, version: str | None = None) -> ModelVersion:
        with self.read() as connection:
            row = one_version(
                connection,
                schema.model_versions,
                name,
                version,
                f"Log one with run.log_model(model, {echoed(name)})."
                if len(name) <= ECHOED
                else "Check the model's name: prodml models list.",
            )
        return _model(row)

    def models_of_run(self, run_id: str) -> list[ModelVersion]:
        columns = schema.model_versions.c
        query = (
            sa.select(schema.model_versions)
            .where(columns.run_id == run_id)
            .order_by(columns.name, columns.version)
        )
        with self.read() as connection:
            return [_model(row) for row in connection.execute(query)]

    def get_model_by_id(self, model_id: str) -> ModelVersion:
        query = sa.select(schema.model_versions).where(schema.model_versions.c.id == model_id)
        with self.read() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise NotFoundError(f"No model version with id {model_id!r} in this store.")
        return _model(row)

    def referenced_digests(self) -> set[str]:
        """Every blob digest that some stored object refers to."""
        queries = [sa.select(column).where(column.is_not(None)) for column in _references()]
        with self.read() as connection:
            return {digest for query in queries for digest in connection.execute(query).scalars()}

    def referenced_among(self, digests: Collection[str]) -> set[str]:
        """Those of ``digests`` that some stored object refers to now."""
        wanted = list(digests)
        queries = [sa.select(column).where(column.in_(wanted)) for column in _references()]
        with self.read() as connection:
            return {digest for query in queries for digest in connection.execute(query).scalars()}

    def references(self, digest: str) -> list[str]:
        """Human names of the objects that refer to a blob, for error messages."""
        found: list[str] = []
        with self.read() as connection:
            for row in connection.execute(
                sa.select(schema.artifacts).where(schema.artifacts.c.digest == digest)
            ):
                found.append(f"artifact {row.name!r} of {row.owner_kind} {row.owner_id[:12]}")
            versions = schema.dataset_versions.c
            for row in connection.execute(
                sa.select(versions.name, versions.version).where(versions.blob == digest)
            ):
                found.append(f"dataset {row.name}@{row.version}")
            files = schema.dataset_files.c
            for row in connection.execute(
                sa.select(versions.name, versions.version, files.path)
                .join(schema.dataset_versions, versions.id == files.version_id)
                .where(files.digest == digest)
            ):
                found.append(f"file {row.path!r} of dataset {row.name}@{row.version}")
            for row in connection.execute(
                sa.select(versions.name, versions.version, sa.func.count().label("files"))
                .join(schema.dataset_versions, versions.id == files.version_id)
                .where(files.pack == digest)
                .group_by(versions.name, versions.version)
            ):
                found.append(f"{row.files} packed files of dataset {row.name}@{row.version}")
            models = schema.model_versions.c
            for row in connection.execute(
                sa.select(models.name, models.version).where(models.digest == digest)
            ):
                found.append(f"model {row.name}@{row.version}")
            profiles = schema.profiles.c
            for row in connection.execute(
                sa.select(versions.name, versions.version, profiles.partition_by)
                .join(schema.dataset_versions, versions.id == profiles.version_id)
                .where(profiles.blob == digest)
            ):
                by = f" by {row.partition_by}" if row.partition_by else ""
                found.append(f"profile{by} of dataset {row.name}@{row.version}")
        return found


def _artifact(row: Any) -> Artifact:
    return Artifact(
        id=row.id,
        owner_kind=row.owner_kind,
        owner_id=row.owner_id,
        name=row.name,
        digest=row.digest,
        size=row.size,
        media_type=row.media_type,
        created_at=from_epoch(row.created_at),
    )


def _model(row: Any) -> ModelVersion:
    return ModelVersion(
        id=row.id,
        name=row.name,
        version=row.version,
        run_id=row.run_id,
        digest=row.digest,
        flavor=row.flavor,
        author=row.author,
        created_at=from_epoch(row.created_at),
        signature=json.loads(row.signature),
        environment=json.loads(row.environment),
    )


def _references() -> tuple[sa.Column[Any], ...]:
    """Every column that holds the digest of a blob some object needs."""
    return (
        schema.artifacts.c.digest,
        schema.dataset_files.c.digest,
        schema.dataset_files.c.pack,
        schema.dataset_versions.c.blob,
        schema.model_versions.c.digest,
        schema.profiles.c.blob,
        schema.monitor_windows.c.profile,
    )
