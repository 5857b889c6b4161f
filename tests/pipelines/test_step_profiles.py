"""The tables a pipeline's steps return are versions whose profiles are made when
first asked for (a check, a drift report, the dashboard), not on the pipeline's path,
and are then the profile of the stored table, kept for the next reader."""

from __future__ import annotations

from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.data.profile import profile_table
from prodml.data.stored_profiles import profiles_of
from prodml.data.stored_tables import load_table
from prodml.domain.steps import OutputKind

PIPELINE = """
name: shapes
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: split, function: steps:split, inputs: {table: load}}
  - {name: total, function: steps:total, inputs: {table: split.left}}
"""

STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def load(table: pa.Table) -> pa.Table:
    numbers = pc.cast(table["x"], pa.float64())
    return pa.table({"x": numbers, "name": pc.cast(table["x"], pa.string())})


def split(table: pa.Table) -> dict[str, pa.Table]:
    return {"left": table.slice(0, 2), "right": table.slice(2)}


def total(table: pa.Table) -> dict[str, float]:
    return {"total": float(pc.sum(table["x"]).as_py())}
"""


def _tables(result: prodml.PipelineResult) -> list[tuple[str, str]]:
    return [
        (o.ref, o.id) for step in result.steps for o in step.outputs if o.kind is OutputKind.DATASET
    ]


def test_a_steps_tables_are_profiled_when_first_asked_for_and_the_profile_is_kept(
    client: Client, project: Project
) -> None:
    log_numbers(client, [1, 2, 3])
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)

    result = project.run(client)

    made = _tables(result)
    assert [ref.split("@")[0] for ref, _ in made] == [
        "shapes-load",
        "shapes-split-left",
        "shapes-split-right",
    ]
    assert result.warnings == []
    for ref, digest in made:
        assert client.metadata.profile_blob(digest) is None, ref
        version = prodml.get_dataset(ref, client=client)
        profile = profiles_of(client, version)[0]
        assert profile.label == ref
        assert profile.rows == version.num_rows
        assert set(profile.columns) == set(version.schema)
        expected = profile_table(load_table(client, version), ref)
        assert profile.to_dict() == expected.to_dict()
        kept = client.metadata.profile_blob(digest)
        assert kept is not None, ref
        assert profiles_of(client, version)[0].to_dict() == profile.to_dict()
        assert client.metadata.profile_blob(digest) == kept
