"""run_pipeline's report must be a function: anything else is refused before any step
runs (it failed with "'int' object is not callable" after the first step had run)."""

from __future__ import annotations

import pytest
from pipeline_project import CHAIN, CHAIN_STEPS, Project, log_numbers

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError


def test_a_report_that_is_not_a_function_is_refused_before_any_step_runs(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", CHAIN)
    project.write("steps.py", CHAIN_STEPS)

    with pytest.raises(InvalidInputError, match="report is 5"):
        prodml.run_pipeline(project.pipeline, report=5, client=sqlite_client)  # type: ignore[arg-type]

    assert prodml.list_runs("demo", client=sqlite_client) == []
