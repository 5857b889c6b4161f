"""A step's tables are stored as the dataset <pipeline>-<step>: a pipeline and step
whose names together pass the 200 characters a name may have are refused when the
file is read, naming both; the step ran first and was then refused with a dataset
name the user never wrote."""

from __future__ import annotations

import pytest
from pipeline_project import CHAIN_STEPS, Project, log_numbers

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError


def test_a_pipeline_and_step_name_too_long_together_are_refused_before_any_step(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1])
    name = "p" * 190
    project.write(
        "pipeline.yaml",
        f"name: {name}\nsteps:\n"
        "  - {name: load_numbers, function: steps:load, inputs: {table: numbers@latest}}\n",
    )
    project.write("steps.py", CHAIN_STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client)

    message = str(raised.value)
    assert "steps[0].name 'load_numbers'" in message and "203 characters" in message
    assert "shorten" in message
    assert prodml.list_runs(name, client=sqlite_client) == []
