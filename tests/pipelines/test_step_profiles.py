"""The profiles of the tables a pipeline's steps return are made while the next steps
run, and every one is stored when ``run_pipeline`` returns. A profile that cannot be
made is a warning of its step; its version is stored and cached all the same, and gets
its profile on first use."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.data.stored_profiles import profiles_of
from prodml.data.stored_tables import load_table
from prodml.domain.run import RunStatus
from prodml.domain.steps import OutputKind
from prodml.errors import StepFailedError

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

# DuckDB, which hashes the rows for the duplicate count, has no decimals of more than
# 38 digits: the profile of a table with one cannot be made.
UNPROFILABLE = """
import decimal

import pyarrow as pa


def load(table: pa.Table) -> pa.Table:
    wide = pa.array([decimal.Decimal(v) for v in table["x"].to_pylist()], pa.decimal256(40, 2))
    return table.append_column("wide", wide)


def total(table: pa.Table) -> dict[str, float]:
    return {"rows": float(table.num_rows)}


def broken(table: pa.Table) -> dict[str, float]:
    raise RuntimeError("the disk is full")
"""


def _tables(result: prodml.PipelineResult) -> list[tuple[str, str]]:
    return [
        (o.ref, o.id) for step in result.steps for o in step.outputs if o.kind is OutputKind.DATASET
    ]


def test_every_table_a_run_made_has_its_profile_when_the_run_returns(
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
        assert client.metadata.profile_blob(digest) is not None, ref
        version = prodml.get_dataset(ref, client=client)
        profile = profiles_of(client, version)[0]
        assert profile.label == ref
        assert profile.rows == version.num_rows
        assert set(profile.columns) == set(version.schema)


def test_a_profile_made_in_the_background_is_the_one_logging_makes(
    client: Client, sqlite_client: Client, project: Project
) -> None:
    log_numbers(client, [1, 2, 3])
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)

    result = project.run(client)

    for ref, _ in _tables(result):
        version = prodml.get_dataset(ref, client=client)
        at_once = prodml.log_dataset("copy", load_table(client, version), client=sqlite_client)
        assert at_once.id == version.id
        background = profiles_of(client, version)[0].to_dict()
        logged = profiles_of(sqlite_client, at_once)[0].to_dict()
        assert {**background, "label": None} == {**logged, "label": None}


def test_a_profile_that_fails_is_a_warning_and_its_version_is_kept_and_cached(
    sqlite_client: Client, project: Project
) -> None:
    client = sqlite_client
    log_numbers(client, [1, 2, 3])
    project.write(
        "pipeline.yaml",
        """
        name: wide
        steps:
          - {name: load, function: steps:load, inputs: {table: numbers@latest}}
          - {name: total, function: steps:total, inputs: {table: load}}
        """,
    )
    project.write("steps.py", UNPROFILABLE)

    result = project.run(client)

    ((ref, digest),) = _tables(result)
    (warning,) = result.warnings
    assert warning.startswith(f"Step 'load': The profile of {ref} could not be made (")
    assert "decimal" in warning.lower()
    assert warning.endswith(f"now with: prodml profile {ref}")
    assert result.steps[0].warnings == (warning,)
    assert result.metrics == {"rows": 3.0}
    assert prodml.get_run(result.run_id, client=client).status is RunStatus.FINISHED
    version = prodml.get_dataset(ref, client=client)
    assert version.id == digest
    assert load_table(client, version).column("wide").type == pa.decimal256(40, 2)
    assert client.metadata.profile_blob(digest) is None
    assert project.run(client).ran == []  # the step's outputs were cached


def test_a_failing_step_still_stores_the_profiles_made_and_names_those_that_failed(
    sqlite_client: Client, project: Project
) -> None:
    client = sqlite_client
    log_numbers(client, [1, 2, 3])
    project.write(
        "pipeline.yaml",
        """
        name: fails
        steps:
          - {name: load, function: steps:load, inputs: {table: numbers@latest}}
          - {name: plain, function: steps:plain, inputs: {table: numbers@latest}}
          - {name: broken, function: steps:broken, inputs: {table: load}}
        """,
    )
    project.write("steps.py", UNPROFILABLE + "\n\ndef plain(table):\n    return table\n")

    with pytest.raises(StepFailedError, match="the disk is full") as raised:
        project.run(client)

    (wide,) = prodml.list_datasets("fails-load", client=client)
    (plain,) = prodml.list_datasets("fails-plain", client=client)
    assert client.metadata.profile_blob(plain.id) is not None
    assert client.metadata.profile_blob(wide.id) is None
    assert any(f"The profile of {wide.ref} could not be made" in n for n in raised.value.__notes__)
