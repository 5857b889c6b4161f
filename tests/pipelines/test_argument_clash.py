"""A config key with the name of one of the step's inputs (or of run, which a step
taking it is given) is refused before any step runs, naming both; the config value
silently replaced the input, and the step failed on it after the steps before it ran."""

from __future__ import annotations

import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError

STEPS = """
import pyarrow as pa


def load(table: pa.Table) -> pa.Table:
    return table


def scale(table: pa.Table, factor: int, run=None) -> dict:
    return {"rows": float(table.num_rows * factor)}
"""

PIPELINE = """
name: clash
config:
  scale: {factor: 3, KEY: 5}
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: scale, function: steps:scale, inputs: {table: load}}
"""


@pytest.mark.parametrize("key", ["table", "run"])
def test_a_config_key_named_like_an_input_is_refused(
    sqlite_client: Client, project: Project, key: str
) -> None:
    log_numbers(sqlite_client, [1, 2])
    project.write("pipeline.yaml", PIPELINE.replace("KEY", key))
    project.write("steps.py", STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client)

    message = str(raised.value)
    assert f"Step 'scale' (steps:scale) is given {key} both" in message
    assert f"scale.{key}" in message
    assert prodml.list_runs("clash", client=sqlite_client) == []
