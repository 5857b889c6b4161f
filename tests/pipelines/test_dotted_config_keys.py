"""A config key that holds a dot (a column of R's airquality such as ``Solar.R``) is
set from the command line by quoting it: ``-s 'fill.columns."Solar.R"=0'``, in a sweep's
space too. Typed unquoted, the override is refused with the quoted spelling to use.
Before, no override could reach such a key."""

from __future__ import annotations

import pytest
from pipeline_project import Project

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError

STEPS = """
def fill(values: dict, columns: dict) -> dict:
    return {"filled": float(sum(columns.values()))}
"""
PIPELINE = """
name: airquality
config:
  fill:
    values: {}
    columns: {Solar.R: 1, Ozone: 2}
steps:
  - {name: fill, function: "steps:fill"}
"""


def _write(project: Project) -> None:
    project.write("steps.py", STEPS)
    project.write("pipeline.yaml", PIPELINE)


def test_a_quoted_key_sets_the_value_of_a_key_with_a_dot(
    project: Project, sqlite_client: Client
) -> None:
    _write(project)

    result = project.run(sqlite_client, 'fill.columns."Solar.R"=10')

    assert result.metrics["filled"] == 12.0
    run = sqlite_client.metadata.get_run(result.run_id)
    assert run.config["fill"]["columns"] == {"Solar.R": 10, "Ozone": 2}


def test_the_key_typed_without_quotes_is_refused_with_the_quoted_spelling(
    project: Project, sqlite_client: Client
) -> None:
    _write(project)

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client, "fill.columns.Solar.R=10")

    assert "-s 'fill.columns.\"Solar.R\"=10'" in str(refused.value)
    with pytest.raises(InvalidInputError, match='quote " is not closed'):
        project.run(sqlite_client, 'fill.columns."Solar.R=10')


def test_a_sweep_searches_a_quoted_key(project: Project, sqlite_client: Client) -> None:
    _write(project)
    space = {
        "objective": "filled",
        "sampler": "grid",
        "parameters": {'fill.columns."Solar.R"': {"choice": [5, 7]}},
    }

    result = prodml.sweep(project.pipeline, space, trials=2, client=sqlite_client)

    assert sorted(t.outcome.value or 0 for t in result.trials) == [7.0, 9.0]


def test_a_quoted_key_may_hold_an_equals_sign_and_refusals_spell_keys_as_typed() -> None:
    from prodml.pipelines.config import override

    config = {"fill": {"columns": {"a=b": 1, "Solar.R": 2}}}

    assert override(config, ['fill.columns."a=b"=9'])["fill"]["columns"]["a=b"] == 9
    with pytest.raises(InvalidInputError) as refused:
        override(config, ["fill.columns.Wind=1"])
    assert 'fill.columns."Solar.R", fill.columns."a=b"' in str(refused.value)
    with pytest.raises(InvalidInputError) as refused:
        override(config, ['fill.columns."Solar.R".low=1'])
    assert 'Override fill.columns."Solar.R" itself' in str(refused.value)
