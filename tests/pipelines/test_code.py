"""The code digest's traps: what a step runs is its function, what it uses in its
module and the project modules its module imports. A changed helper, default
argument or constant reruns the steps that use it; a changed comment or blank line,
or a function no step uses, reruns nothing."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client

PIPELINE = """
name: traps
steps:
  - {name: load, function: loading:load, inputs: {table: numbers@latest}}
  - {name: shift, function: shifting:shift, inputs: {table: load}}
  - {name: scale, function: shifting:scale, inputs: {table: load}}
  - {name: count, function: loading:count, inputs: {table: load}}
"""

LOADING = """
import pyarrow as pa


def load(table: pa.Table) -> pa.Table:
    return table


def count(table: pa.Table) -> dict[str, float]:
    return {"rows": float(table.num_rows)}
"""

SHIFTING = """
import pyarrow as pa
import pyarrow.compute as pc

from helpers import offset

FACTOR = 2


def shift(table: pa.Table, by: int = 1) -> pa.Table:
    # move every value up
    return pa.table({"x": pc.add(table["x"], offset(by))})


def scale(table: pa.Table, factor: int = FACTOR) -> pa.Table:
    return pa.table({"x": pc.multiply(table["x"], _twice(factor))})


def _twice(value: int) -> int:
    return value * 2


def unused() -> int:
    return 1
"""

HELPERS = """
def offset(by: int) -> int:
    return by
"""


@pytest.fixture
def traps(sqlite_client: Client, project: Project) -> Iterator[Project]:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", PIPELINE)
    project.write("loading.py", LOADING)
    project.write("shifting.py", SHIFTING)
    project.write("helpers.py", HELPERS)
    assert project.run(sqlite_client).ran == ["load", "shift", "scale", "count"]
    yield project


def _table(client: Client, project: Project, step: str) -> list[int]:
    result = project.run(client)
    (output,) = next(s for s in result.steps if s.name == step).outputs
    values: list[int] = prodml.load_table(output.ref, client=client)["x"].to_pylist()
    return values


def test_a_changed_helper_in_another_project_module_reruns_the_steps_whose_module_uses_it(
    sqlite_client: Client, traps: Project
) -> None:
    traps.edit("helpers.py", "return by", "return by * 10")

    result = traps.run(sqlite_client)

    assert result.ran == ["shift", "scale"]
    assert _table(sqlite_client, traps, "shift") == [11, 12, 13]


def test_a_helper_that_a_helper_imports_counts_too(sqlite_client: Client, traps: Project) -> None:
    traps.write("units.py", "def unit() -> int:\n    return 1\n")
    traps.write(
        "helpers.py", "from units import unit\n\n\ndef offset(by):\n    return by * unit()\n"
    )
    assert traps.run(sqlite_client).ran == ["shift", "scale"]

    traps.edit("units.py", "return 1", "return 100")

    assert traps.run(sqlite_client).ran == ["shift", "scale"]
    assert _table(sqlite_client, traps, "shift") == [101, 102, 103]


def test_changed_comments_and_blank_lines_rerun_nothing(
    sqlite_client: Client, traps: Project
) -> None:
    traps.edit("shifting.py", "# move every value up", "# add the offset\n\n    # to each value")
    traps.edit("helpers.py", "def offset", "# a helper\n\n\ndef offset")
    traps.edit("loading.py", "import pyarrow as pa", "import pyarrow as pa  # tables")

    assert traps.run(sqlite_client).ran == []


def test_a_changed_default_argument_reruns_its_step(sqlite_client: Client, traps: Project) -> None:
    traps.edit("shifting.py", "by: int = 1", "by: int = 5")

    assert traps.run(sqlite_client).ran == ["shift"]
    assert _table(sqlite_client, traps, "shift") == [6, 7, 8]


def test_a_changed_constant_used_as_a_default_reruns_its_step(
    sqlite_client: Client, traps: Project
) -> None:
    traps.edit("shifting.py", "FACTOR = 2", "FACTOR = 3")

    result = traps.run(sqlite_client)

    assert "scale" in result.ran and "load" not in result.ran and "count" not in result.ran
    assert _table(sqlite_client, traps, "scale") == [6, 12, 18]


def test_a_changed_function_of_the_same_module_reruns_the_steps_that_call_it_only(
    sqlite_client: Client, traps: Project
) -> None:
    traps.edit("shifting.py", "return value * 2", "return value * 4")

    assert traps.run(sqlite_client).ran == ["scale"]
    assert _table(sqlite_client, traps, "scale") == [8, 16, 24]


def test_a_changed_function_no_step_uses_reruns_nothing(
    sqlite_client: Client, traps: Project
) -> None:
    traps.edit("shifting.py", "return 1", "return 2")

    assert traps.run(sqlite_client).ran == []


def test_a_changed_step_function_reruns_it_and_the_steps_after_it_that_see_new_outputs(
    sqlite_client: Client, traps: Project
) -> None:
    traps.edit("loading.py", "return table\n", "return table.slice(1)\n")

    assert traps.run(sqlite_client).ran == ["load", "shift", "scale", "count"]
    assert _table(sqlite_client, traps, "shift") == [3, 4]


def test_a_helper_in_a_project_package_counts_and_a_cached_run_does_not_import_it(
    sqlite_client: Client, traps: Project
) -> None:
    traps.write("lib/__init__.py", "")
    traps.write("lib/numbers.py", "def offset(by: int) -> int:\n    return by\n")
    traps.edit("shifting.py", "from helpers import offset", "from lib.numbers import offset")
    assert traps.run(sqlite_client).ran == ["shift", "scale"]
    for name in ("lib", "lib.numbers", "shifting"):
        sys.modules.pop(name, None)  # as in a new process

    assert traps.run(sqlite_client).ran == []
    assert not {"lib", "lib.numbers", "shifting"} & set(sys.modules)

    traps.edit("lib/numbers.py", "return by", "return by * 3")
    assert traps.run(sqlite_client).ran == ["shift", "scale"]
    assert _table(sqlite_client, traps, "shift") == [4, 5, 6]


def test_a_step_module_in_a_package_sees_its_relative_imports_change(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write(
        "pipeline.yaml",
        """
        name: packaged
        steps:
          - {name: shift, function: flow.steps:shift, inputs: {table: numbers@latest}}
        """,
    )
    project.write("flow/__init__.py", "")
    project.write("flow/base.py", "OFFSET = 1\n")
    project.write(
        "flow/helpers.py", "from .base import OFFSET\n\n\ndef offset():\n    return OFFSET\n"
    )
    project.write(
        "flow/steps.py",
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        from . import helpers


        def shift(table: pa.Table) -> pa.Table:
            return pa.table({"x": pc.add(table["x"], helpers.offset())})
        """,
    )
    assert _table(sqlite_client, project, "shift") == [2, 3, 4]

    project.edit("flow/base.py", "OFFSET = 1", "OFFSET = 5")

    assert project.run(sqlite_client).ran == ["shift"]
    assert _table(sqlite_client, project, "shift") == [6, 7, 8]


def test_a_helper_elsewhere_in_the_project_than_the_pipeline_file_counts(
    sqlite_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = Project(tmp_path / "repository")
    repository.write("pyproject.toml", "[project]\nname = 'flights'\nversion = '0.1'\n")
    repository.write("src/flights/__init__.py", "")
    repository.write("src/flights/features.py", "def offset() -> int:\n    return 1\n")
    repository.write(
        "pipelines/pipeline.yaml",
        """
        name: laid-out
        steps:
          - {name: shift, function: steps:shift, inputs: {table: numbers@latest}}
        """,
    )
    repository.write(
        "pipelines/steps.py",
        """
        import pyarrow as pa
        import pyarrow.compute as pc
        from flights.features import offset


        def shift(table: pa.Table) -> pa.Table:
            return pa.table({"x": pc.add(table["x"], offset())})
        """,
    )
    monkeypatch.syspath_prepend(str(repository.folder / "src"))  # as pip install -e . does
    log_numbers(sqlite_client, [1, 2, 3])

    def shifted() -> tuple[list[str], list[int]]:
        result = prodml.run_pipeline(
            repository.folder / "pipelines/pipeline.yaml", client=sqlite_client
        )
        table = prodml.load_table(result.steps[0].outputs[0].ref, client=sqlite_client)
        return result.ran, table["x"].to_pylist()

    assert shifted() == (["shift"], [2, 3, 4])
    repository.edit("src/flights/features.py", "return 1", "return 10")
    assert shifted() == (["shift"], [11, 12, 13])


def test_a_function_reached_through_a_module_level_table_counts(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write(
        "pipeline.yaml",
        """
        name: table
        steps:
          - {name: shift, function: steps:shift, inputs: {table: numbers@latest}}
        """,
    )
    project.write(
        "steps.py",
        """
        import pyarrow as pa
        import pyarrow.compute as pc


        def _one(values):
            return pc.add(values, 1)


        TRANSFORMS = {"x": _one}


        def shift(table: pa.Table) -> pa.Table:
            return pa.table({name: TRANSFORMS[name](table[name]) for name in table.column_names})


        if __name__ == "__main__":
            print("run me with prodml run")
        """,
    )
    assert _table(sqlite_client, project, "shift") == [2, 3, 4]

    project.edit("steps.py", "pc.add(values, 1)", "pc.add(values, 5)")
    assert project.run(sqlite_client).ran == ["shift"]
    assert _table(sqlite_client, project, "shift") == [6, 7, 8]
    project.edit("steps.py", 'print("run me with prodml run")', 'print("see the README")')
    assert project.run(sqlite_client).ran == []  # a main block does not run on import
