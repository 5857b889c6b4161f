"""The pipeline step cache in the SQL store: one row per step key.

An entry is written once, after every output of the step is stored, so a step that
failed halfway never has one; two runs that finish the same step at once both try,
and the key's primary key keeps the first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from prodml.domain.ids import from_epoch
from prodml.domain.steps import CachedStep, OutputKind, StepOutput
from prodml.stores import schema
from prodml.stores.sql_base import SqlBase


class StepQueries(SqlBase):
    def cached_step(self, key: str) -> CachedStep | None:
        table = schema.step_cache
        with self.read() as connection:
            row = connection.execute(sa.select(table).where(table.c.key == key)).first()
        return None if row is None else _entry(row._mapping)

    def cache_step(self, entry: CachedStep, replace: bool = False) -> bool:
        table = schema.step_cache
        values = {
            "run_id": entry.run_id,
            "outputs": json.dumps([_output_row(o) for o in entry.outputs], default=str),
            "seconds": entry.seconds,
            "created_at": entry.created_at.timestamp(),
        }
        details: dict[str, object] = {
            "pipeline": entry.pipeline, "step": entry.step, "key": entry.key,
        }  # fmt: skip
        with self.write() as connection:
            earlier = connection.execute(
                sa.select(table.c.run_id).where(table.c.key == entry.key)
            ).first()
            if earlier is not None and not replace:
                return False
            if earlier is None:
                connection.execute(
                    table.insert().values(
                        key=entry.key,
                        pipeline=entry.pipeline,
                        step=entry.step,
                        nondeterministic=entry.nondeterministic,
                        **values,
                    )
                )
            else:  # a forced rerun's outputs are the ones reused from now on
                connection.execute(
                    sa.update(table).where(table.c.key == entry.key).values(**values)
                )
                details["replaced"] = earlier[0]
            self.event(connection, "step.cached", ("run", entry.run_id), None, details)
        return True

    def flag_nondeterministic(self, key: str, details: dict[str, object]) -> None:
        table = schema.step_cache
        with self.write() as connection:
            row = connection.execute(
                sa.update(table)
                .where(table.c.key == key)
                .values(nondeterministic=True)
                .returning(table.c.run_id)
            ).first()
            if row is not None:
                self.event(connection, "step.nondeterministic", ("run", row[0]), None, details)

    def cached_steps(self, pipeline: str, step: str | None = None) -> Sequence[CachedStep]:
        table = schema.step_cache
        query = sa.select(table).where(table.c.pipeline == pipeline)
        if step is not None:
            query = query.where(table.c.step == step)
        with self.read() as connection:
            rows = connection.execute(query.order_by(table.c.created_at.desc())).all()
        return [_entry(row._mapping) for row in rows]


def _output_row(output: StepOutput) -> dict[str, Any]:
    return {
        "name": output.name,
        "kind": output.kind.value,
        "id": output.id,
        "ref": output.ref,
        "digest": output.digest,
        "value": output.value,
    }


def _entry(row: Any) -> CachedStep:
    outputs = tuple(
        StepOutput(
            name=o["name"],
            kind=OutputKind(o["kind"]),
            id=o["id"],
            ref=o["ref"],
            digest=o["digest"],
            value=o["value"],
        )
        for o in json.loads(row["outputs"])
    )
    return CachedStep(
        key=row["key"],
        pipeline=row["pipeline"],
        step=row["step"],
        run_id=row["run_id"],
        outputs=outputs,
        seconds=float(row["seconds"]),
        created_at=from_epoch(float(row["created_at"])),
        nondeterministic=bool(row["nondeterministic"]),
    )
