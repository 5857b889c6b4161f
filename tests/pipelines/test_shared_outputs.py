"""Each step gets its own copy of an earlier step's output: a step that changes the
DataFrame (or list) it is given in place does not change what the steps after it
get. They got the same object, so a step saw the changes of the step before it in a
fresh run but not in a run where the output came back from the cache, and its cached
result depended on which run made it."""

from __future__ import annotations

from pipeline_project import Project

from prodml.client import Client

PIPELINE = """
name: shared
steps:
  - {name: make, function: steps:make}
  - {name: clean, function: steps:clean, inputs: {table: make.table, names: make.names}}
  - {name: count, function: steps:count, inputs: {table: make.table, names: make.names}}
"""

STEPS = """
import pandas as pd


def make() -> dict:
    return {"table": pd.DataFrame({"x": [1.0, 2.0, None]}), "names": ["x"]}


def clean(table: pd.DataFrame, names: list) -> dict:
    table["y"] = 1.0  # in place, as a cleaning step often does
    table.loc[2, "x"] = 100.0
    names.append("y")
    return {"kept": float(table["x"].notna().sum())}


def count(table: pd.DataFrame, names: list) -> dict:
    return {
        "missing": float(table["x"].isna().sum()),
        "columns": float(table.shape[1]),
        "names": float(len(names)),
    }
"""


def test_a_step_changing_its_input_in_place_leaves_the_next_steps_input_alone(
    sqlite_client: Client, project: Project
) -> None:
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)

    fresh = project.run(sqlite_client)
    again = project.run(sqlite_client, force=("clean", "count"))

    expected = {"kept": 3.0, "missing": 1.0, "columns": 1.0, "names": 1.0}
    assert fresh.metrics == expected
    assert again.ran == ["clean", "count"] and again.metrics == expected
