"""A step whose table argument is annotated ``pl.LazyFrame`` gets a LazyFrame, and a
LazyFrame a step returns is collected and stored as a table; the step got a DataFrame
(failing on ``.collect()``) and a returned LazyFrame was refused."""

from __future__ import annotations

from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.domain.steps import OutputKind

PIPELINE = """
name: lazy
steps:
  - {name: keep, function: steps:keep, inputs: {table: numbers@latest}}
  - {name: count, function: steps:count, inputs: {table: keep}}
"""

STEPS = """
import polars as pl


def keep(table: pl.LazyFrame) -> pl.LazyFrame:
    assert isinstance(table, pl.LazyFrame), type(table)
    return table.filter(pl.col("x") > 1)


def count(table: pl.DataFrame) -> dict:
    assert isinstance(table, pl.DataFrame), type(table)
    return {"rows": float(table.height)}
"""


def test_lazy_frames_in_and_out(sqlite_client: Client, project: Project) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)

    result = project.run(sqlite_client)

    assert result.metrics == {"rows": 2.0}
    keep = result.steps[0]
    assert [o.kind for o in keep.outputs] == [OutputKind.DATASET]
    stored = prodml.load_table(keep.outputs[0].ref, client=sqlite_client)
    assert stored.to_pydict() == {"x": [2, 3]}
