"""What a step returns, stored and handed on: tables as dataset versions in the form
the next step's argument asks for, models as model versions under the name the step
gives, metrics on the runs, JSON values with the cache entry; what a step takes:
its inputs, its config slice, its own run."""

from __future__ import annotations

from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.domain.steps import OutputKind

FORMS = """
name: forms
config:
  measure: {unit: 10}
steps:
  - {name: frame, function: steps:frame, inputs: {table: numbers@latest}}
  - {name: polar, function: steps:polar, inputs: {table: frame}}
  - {name: arrow, function: steps:arrow, inputs: {table: polar}}
  - {name: measure, function: steps:measure, inputs: {table: arrow}}
  - {name: report, function: steps:report, inputs: {columns: measure.columns, unit: measure.unit}}
"""

FORMS_STEPS = """
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa


def frame(table: pd.DataFrame) -> pd.DataFrame:
    assert isinstance(table, pd.DataFrame)
    return table.assign(y=table["x"] * 2)


def polar(table: pl.DataFrame) -> pl.DataFrame:
    assert isinstance(table, pl.DataFrame)
    return table.with_columns(z=pl.col("y") + 1)


def arrow(table):
    assert isinstance(table, pa.Table)
    return table


def measure(table: pa.Table, config: dict[str, Any], run: Any) -> dict[str, object]:
    run.log_metric("rows_seen", table.num_rows)
    return {"columns": table.column_names, "unit": config["unit"]}


def report(columns: list[str], unit: int) -> dict[str, float]:
    return {"columns": float(len(columns)), "unit": float(unit)}
"""


def test_tables_reach_each_step_in_the_form_its_argument_is_annotated_with(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2])
    project.write("pipeline.yaml", FORMS)
    project.write("steps.py", FORMS_STEPS)

    result = project.run(sqlite_client)

    steps = {s.name: s for s in result.steps}
    assert [o.kind for o in steps["polar"].outputs] == [OutputKind.DATASET]
    stored = prodml.load_table(steps["polar"].outputs[0].ref, client=sqlite_client)
    assert stored.to_pydict() == {"x": [1, 2], "y": [2, 4], "z": [3, 5]}
    columns, unit = steps["measure"].outputs
    assert (columns.kind, columns.name, columns.value) == (
        OutputKind.VALUE,
        "columns",
        ["x", "y", "z"],
    )
    assert (unit.kind, unit.name, unit.value) == (OutputKind.VALUE, "unit", 10)
    assert prodml.get_run(steps["measure"].run_id, client=sqlite_client).metrics == {
        "rows_seen": 2.0
    }
    assert steps["report"].outputs[0].kind is OutputKind.METRICS
    assert prodml.get_run(steps["report"].run_id, client=sqlite_client).metrics == {
        "columns": 3.0,
        "unit": 10.0,
    }
    assert result.metrics == {"columns": 3.0, "unit": 10.0}

    again = project.run(sqlite_client)
    assert again.ran == [] and again.metrics == {"columns": 3.0, "unit": 10.0}
    assert prodml.get_run(again.steps[-1].run_id, client=sqlite_client).metrics == {
        "columns": 3.0,
        "unit": 10.0,
    }


MODELS = """
name: models
steps:
  - {name: fit, function: steps:fit, inputs: {table: numbers@latest}, model: MODEL}
  - {name: score, function: steps:score, inputs: {model: fit, table: numbers@latest}}
"""

MODELS_STEPS = """
import pandas as pd
import prodml


class Mean:
    def __init__(self, mean: float) -> None:
        self.mean = mean

    def predict(self, rows: pd.DataFrame) -> list[float]:
        return [self.mean] * len(rows)


def fit(table: pd.DataFrame):
    return prodml.step_model(Mean(float(table["x"].mean())), example=table.head(2))


def score(model: Mean, table: pd.DataFrame) -> dict[str, float]:
    return {"first": model.predict(table)[0]}
"""


def test_a_model_is_stored_under_the_name_the_step_gives_with_its_example_as_signature(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", MODELS.replace("MODEL", "mean"))
    project.write("steps.py", MODELS_STEPS)

    result = project.run(sqlite_client)

    (model,) = result.steps[0].outputs
    assert (model.kind, model.ref) == (OutputKind.MODEL, "mean@1")
    stored = prodml.get_model("mean@1", client=sqlite_client)
    assert stored.run_id == result.steps[0].run_id
    assert "x" in str(stored.signature)
    assert result.metrics == {"first": 2.0}


def test_a_new_model_name_stores_the_model_under_it_on_the_next_run(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", MODELS.replace("MODEL", "mean"))
    project.write("steps.py", MODELS_STEPS)
    project.run(sqlite_client)

    project.edit("pipeline.yaml", "model: mean", "model: average")
    renamed = project.run(sqlite_client)

    assert renamed.steps[0].outputs[0].ref == "average@1"
    assert prodml.load_model("average@1", client=sqlite_client).predict([0]) == [2.0]


NOTHING = """
name: quiet
steps:
  - {name: touch, function: steps:touch, cache: false}
  - {name: after, function: steps:after}
"""

NOTHING_STEPS = """
def touch() -> None:
    return None


def after() -> dict[str, float]:
    return {"done": 1.0}
"""


def test_a_step_with_cache_false_runs_every_time_and_one_returning_none_has_no_output(
    sqlite_client: Client, project: Project
) -> None:
    project.write("pipeline.yaml", NOTHING)
    project.write("steps.py", NOTHING_STEPS)

    first = project.run(sqlite_client)
    second = project.run(sqlite_client)

    assert first.ran == ["touch", "after"] and second.ran == ["touch"]
    assert first.steps[0].outputs == ()
    assert [e.step for e in prodml.step_cache("quiet", client=sqlite_client)] == ["after"]
