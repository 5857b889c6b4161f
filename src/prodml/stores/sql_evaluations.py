"""Suites, evaluations and guardrail versions in the SQL store."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from prodml.domain.evaluation import EvaluationRecord, SuiteRecord
from prodml.domain.ids import from_epoch
from prodml.errors import NotFoundError
from prodml.stores import counters, schema
from prodml.stores.sql_lineage import LineageQueries


class EvaluationQueries(LineageQueries):
    def add_suite(self, name: str, document: Mapping[str, object]) -> int:
        """Store ``document`` as the next suite version of model ``name``; the same
        document as the latest is not stored again."""
        table = schema.suites
        text = json.dumps(document, sort_keys=True)
        with self.write() as connection:
            self.serialise(connection, f"suite:{name}")
            latest = connection.execute(
                sa.select(table.c.version, table.c.document)
                .where(table.c.name == name)
                .order_by(table.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.document == text:
                return int(latest.version)
            version = (latest.version if latest else 0) + 1
            connection.execute(
                table.insert().values(
                    name=name,
                    version=version,
                    document=text,
                    author=self.user,
                    created_at=time.time(),
                )
            )
            self.event(
                connection, "suite.registered", ("model_name", name), None, {"version": version}
            )
        return version

    def get_suite(self, name: str, version: int | None = None) -> SuiteRecord:
        """One version of the suite of model ``name`` (the latest by default)."""
        query = _one_version(schema.suites, schema.suites.c.name == name, version)
        with self.read() as connection:
            row = connection.execute(query).first()
        if row is None:
            which = "" if version is None else f" version {version}"
            raise NotFoundError(
                f"No evaluation suite{which} for model {name!r}. Register one: "
                f"prodml suites register {name} suite.yaml"
            )
        return SuiteRecord(
            name=row.name,
            version=int(row.version),
            document=json.loads(row.document),
            author=row.author,
            created_at=from_epoch(row.created_at),
        )

    def add_evaluation(
        self,
        evaluation_id: str,
        model_id: str,
        suite_version: int,
        result: Mapping[str, Any],
        datasets: list[str],
        baseline_id: str | None = None,
        verdict: str | None = None,
    ) -> None:
        """Store an evaluation, linked to its model version and the dataset versions used."""
        now = time.time()
        with self.write() as connection:
            connection.execute(
                schema.evaluations.insert().values(
                    id=evaluation_id,
                    model_id=model_id,
                    suite_version=suite_version,
                    baseline_id=baseline_id,
                    verdict=verdict,
                    result=json.dumps(result, sort_keys=True, default=str),
                    author=self.user,
                    created_at=now,
                )
            )
            self.link(
                connection, ("model", model_id), ("evaluation", evaluation_id), "evaluated", now
            )
            for dataset_id in dict.fromkeys(datasets):
                self.link(
                    connection,
                    ("dataset", dataset_id),
                    ("evaluation", evaluation_id),
                    "evaluated_on",
                    now,
                )
            self.event(
                connection,
                "model.evaluated",
                ("model", model_id),
                None,
                {"evaluation": evaluation_id, "suite": suite_version, "verdict": verdict},
                now,
            )

    def gate_verdict(self, candidate_id: str, baseline_id: str) -> tuple[str, str | None] | None:
        """(evaluation id, verdict) of the latest comparison of one model version against
        another, or None when they were never compared."""
        candidate, baseline = schema.evaluations, schema.evaluations.alias("baseline")
        query = (
            sa.select(candidate.c.id, candidate.c.verdict)
            .join(baseline, baseline.c.id == candidate.c.baseline_id)
            .where(candidate.c.model_id == candidate_id, baseline.c.model_id == baseline_id)
            .order_by(candidate.c.created_at.desc())
            .limit(1)
        )
        with self.read() as connection:
            row = connection.execute(query).first()
        return None if row is None else (str(row.id), row.verdict)

    def evaluations(
        self, model_id: str | None = None, evaluation_id: str | None = None
    ) -> list[EvaluationRecord]:
        """Stored results, newest first: of one model version, or the one with an id prefix."""
        columns = schema.evaluations.c
        query = sa.select(schema.evaluations).order_by(columns.created_at.desc())
        if model_id is not None:
            query = query.where(columns.model_id == model_id)
        if evaluation_id is not None:
            query = query.where(columns.id.startswith(evaluation_id.lower(), autoescape=True))
        with self.read() as connection:
            return [_evaluation(row) for row in connection.execute(query.limit(200))]

    def add_guardrails(self, model_id: str, artifact_id: str) -> int:
        table = schema.guardrails
        with self.write() as connection:
            self.serialise(connection, f"guardrails:{model_id}")
            latest = connection.execute(
                sa.select(sa.func.max(table.c.version)).where(table.c.model_id == model_id)
            ).scalar()
            version = int(latest or 0) + 1
            connection.execute(
                table.insert().values(
                    model_id=model_id,
                    version=version,
                    artifact_id=artifact_id,
                    author=self.user,
                    created_at=time.time(),
                )
            )
            self.event(
                connection,
                "model.guardrails_attached",
                ("model", model_id),
                None,
                {"version": version, "artifact": artifact_id},
            )
            counters.bump(connection, counters.ROUTING)
        return version

    def guardrails_artifact(
        self, model_id: str, version: int | None = None
    ) -> tuple[int, str] | None:
        """(version, artifact id) of a model version's guardrails: the latest by default."""
        query = _one_version(schema.guardrails, schema.guardrails.c.model_id == model_id, version)
        with self.read() as connection:
            row = connection.execute(query).first()
        return None if row is None else (int(row.version), str(row.artifact_id))


def _evaluation(row: Any) -> EvaluationRecord:
    return EvaluationRecord(
        id=row.id,
        model_id=row.model_id,
        suite_version=int(row.suite_version),
        baseline_id=row.baseline_id,
        verdict=row.verdict,
        result=json.loads(row.result),
        author=row.author,
        created_at=from_epoch(row.created_at),
    )


def _one_version(table: sa.Table, owner: Any, version: int | None) -> sa.Select[Any]:
    """The row of one version of ``owner``'s documents in ``table``: the latest by default."""
    query = sa.select(table).where(owner)
    if version is None:
        return query.order_by(table.c.version.desc()).limit(1)
    return query.where(table.c.version == version)
