"""Config keys are text: a key YAML reads as a number, a truth value, a date or null
(``1: 2``, ``yes: 1``) is refused naming where it sits, before any step runs; it
stopped the run halfway ("keywords must be strings") or could not be stored."""

from __future__ import annotations

import pytest
from pipeline_project import CHAIN_STEPS, Project, log_numbers

from prodml.client import Client
from prodml.errors import InvalidInputError

PIPELINE = """
name: keys
config:
  scale: {factor: 3, extra: {KEY: 1}}
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: scale, function: steps:scale, inputs: {table: load}}
"""

STEPS = CHAIN_STEPS.replace("factor: int)", "factor: int, extra: dict)")


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("1", "1 (a number)"),
        ("true", "true (true or false)"),
        ("2013-03-15", "2013-03-15 (a date)"),
    ],
)
def test_a_config_key_that_is_not_text_is_refused_by_its_place(
    sqlite_client: Client, project: Project, key: str, shown: str
) -> None:
    log_numbers(sqlite_client, [1, 2])
    project.write("pipeline.yaml", PIPELINE.replace("KEY", key))
    project.write("steps.py", STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client)

    message = str(raised.value)
    assert "config.scale.extra" in message and shown in message
    assert f"'{key}'" in message  # how to write it as text
    assert sqlite_client.metadata.cached_steps("keys", None) == []


def test_a_quoted_key_is_text(sqlite_client: Client, project: Project) -> None:
    log_numbers(sqlite_client, [1, 2])
    project.write("pipeline.yaml", PIPELINE.replace("KEY", "'1'"))
    project.write("steps.py", STEPS)

    result = project.run(sqlite_client)

    assert [s.cached for s in result.steps] == [False, False]
