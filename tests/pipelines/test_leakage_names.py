"""A step's leakage section names two of its inputs: a typo there is refused when the
pipeline file is read, before any step runs (it was found only when the training
step was reached, after every step before it had run); a column the check cannot
find names the step and its leakage section."""

from __future__ import annotations

import pytest
from pipeline_project import Project, log_numbers

from prodml.client import Client
from prodml.errors import InvalidInputError

STEPS = """
import pyarrow as pa


def split(table: pa.Table) -> dict:
    return {"train": table.slice(0, 2), "valid": table.slice(2)}


def train(rows: pa.Table, holdout: pa.Table) -> dict:
    return {"rows": float(rows.num_rows)}
"""

PIPELINE = """
name: leak-names
steps:
  - {name: split, function: steps:split, inputs: {table: numbers@latest}}
  - name: train
    function: steps:train
    inputs: {rows: split.train, holdout: split.valid}
    leakage: LEAKAGE
"""


@pytest.mark.parametrize(
    ("leakage", "said"),
    [
        ("{train: table, valid: holdout}", "leakage.train is 'table'"),
        ("{train: rows, valid: valid}", "leakage.valid is 'valid'"),
        ("{train: rows, valid: rows}", "the same input"),
    ],
)
def test_a_leakage_section_naming_no_input_is_refused_before_any_step_runs(
    sqlite_client: Client, project: Project, leakage: str, said: str
) -> None:
    log_numbers(sqlite_client, [1, 2, 3, 4])
    project.write("pipeline.yaml", PIPELINE.replace("LEAKAGE", leakage))
    project.write("steps.py", STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client)

    assert said in str(raised.value) and "steps[1]" in str(raised.value)
    assert "holdout" in str(raised.value) and "rows" in str(raised.value)
    assert sqlite_client.metadata.cached_steps("leak-names", None) == []


def test_a_leakage_column_the_tables_lack_names_the_step(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3, 4])
    project.write(
        "pipeline.yaml", PIPELINE.replace("LEAKAGE", "{train: rows, valid: holdout, keys: [id]}")
    )
    project.write("steps.py", STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client)

    assert str(raised.value).startswith("Step 'train': leakage.keys: 'id' is not a column")
