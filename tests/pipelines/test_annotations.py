"""A table reaches a step in the form its argument's annotation names, however the
step module imported that name (``from pandas import DataFrame``, ``import pandas as
pandas_``, ``from polars import DataFrame as PlFrame``)."""

from __future__ import annotations

from pipeline_project import Project, log_numbers

from prodml.client import Client

PIPELINE = """
name: imported-names
steps:
  - {name: frame, function: steps:frame, inputs: {table: numbers@latest}}
  - {name: aliased, function: steps:aliased, inputs: {table: frame}}
  - {name: polar, function: steps:polar, inputs: {table: aliased}}
  - {name: arrow, function: steps:arrow, inputs: {table: polar}}
"""

STEPS = """
from __future__ import annotations

import pandas as pandas_
import pyarrow as pa
from pandas import DataFrame
from polars import DataFrame as PlFrame


def frame(table: DataFrame) -> DataFrame:
    assert isinstance(table, DataFrame), type(table)
    return table.assign(y=table["x"] * 2)


def aliased(table: pandas_.DataFrame) -> pandas_.DataFrame:
    assert isinstance(table, pandas_.DataFrame), type(table)
    return table.copy()


def polar(table: PlFrame) -> PlFrame:
    assert isinstance(table, PlFrame), type(table)
    return table


def arrow(table: pa.Table) -> dict[str, float]:
    assert isinstance(table, pa.Table), type(table)
    return {"rows": float(table.num_rows)}
"""


def test_a_table_arrives_as_the_dataframe_class_imported_by_name(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)

    result = project.run(sqlite_client)

    assert result.metrics == {"rows": 3.0}


DECORATED = """
from __future__ import annotations

import functools

from pandas import DataFrame


def logged(function):
    @functools.wraps(function)
    def wrapper(**kwargs):
        return function(**kwargs)
    return wrapper


def _frame(table: DataFrame) -> dict[str, float]:
    assert isinstance(table, DataFrame), type(table)
    return {"rows": float(len(table))}


frame = logged(_frame)
"""


def test_a_step_made_by_a_decorator_reads_its_annotations_the_same_way(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2])
    project.write(
        "pipeline.yaml",
        """
        name: decorated
        steps:
          - {name: frame, function: steps:frame, inputs: {table: numbers@latest}}
        """,
    )
    project.write("steps.py", DECORATED)

    assert project.run(sqlite_client).metrics == {"rows": 2.0}


def test_a_class_from_a_module_whose_name_ends_in_pl_or_pd_is_not_taken_for_a_dataframe(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2])
    project.write(
        "pipeline.yaml",
        """
        name: impl
        steps:
          - {name: rows, function: steps:rows, inputs: {table: numbers@latest}}
        """,
    )
    project.write("impl.py", "from typing import Any as Table\n")
    project.write("stdpd.py", "from typing import Any as Frame\n")
    project.write(
        "steps.py",
        """
        import pyarrow as pa
        from impl import Table
        from stdpd import Frame


        def rows(table: Table | Frame) -> dict[str, float]:
            assert isinstance(table, pa.Table), type(table)
            return {"rows": float(table.num_rows)}
        """,
    )

    assert project.run(sqlite_client).metrics == {"rows": 2.0}
