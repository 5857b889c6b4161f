"""A value YAML reads as a date or number that cannot be one (2013-13-45, a number of
5,000 digits), in a pipeline file or an -s override, is refused as invalid YAML saying
to correct or quote it; it was an unexpected error (exit 2) naming nothing."""

from __future__ import annotations

import pytest
from pipeline_project import CHAIN, CHAIN_STEPS, Project, log_numbers

from prodml import yaml_text
from prodml.client import Client
from prodml.errors import InvalidInputError


@pytest.mark.parametrize("value", ["2013-13-45", "2013-02-30 10:00:00", "9" * 5000])
def test_a_value_that_cannot_be_what_it_reads_as_is_invalid_yaml(value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        yaml_text.parse(f"since: {value}\n", "Pipeline file p.yaml")

    message = str(raised.value)
    assert message.startswith("Pipeline file p.yaml is not valid YAML: a value reads as")
    assert "quote it to keep it as text" in message
    assert len(message) < 300


def test_an_override_with_an_impossible_date_is_refused_before_any_step(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1])
    project.write("pipeline.yaml", CHAIN)
    project.write("steps.py", CHAIN_STEPS)

    with pytest.raises(InvalidInputError, match="not valid YAML: a value reads as a date"):
        project.run(sqlite_client, "scale.since=2013-13-45")
    assert sqlite_client.metadata.list_runs() == []
