"""Step functions read from their files and imported only when they run; in a
long-lived process (a notebook, a sweep) an edited module is imported again, so a
step runs the code its cache key was computed from."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client

PIPELINE = """
name: live
steps:
  - {name: load, function: loading:load, inputs: {table: numbers@latest}}
  - {name: shift, function: shifting:shift, inputs: {table: load}}
  - {name: again, function: again:shift_again, inputs: {table: shift}}
"""

LOADING = """
import pyarrow as pa


def load(table: pa.Table) -> pa.Table:
    return table
"""

SHIFTING = """
import pyarrow as pa
import pyarrow.compute as pc
from helpers import offset


def shift(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.add(table["x"], offset())})
"""

AGAIN = """
import pyarrow as pa
import pyarrow.compute as pc
import helpers


def shift_again(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.add(table["x"], helpers.offset())})
"""


def _write(project: Project) -> None:
    project.write("pipeline.yaml", PIPELINE)
    project.write("loading.py", LOADING)
    project.write("shifting.py", SHIFTING)
    project.write("again.py", AGAIN)
    project.write("helpers.py", "def offset() -> int:\n    return 1\n")


def _last(client: Client, project: Project) -> tuple[list[str], list[int]]:
    result = project.run(client)
    (output,) = result.steps[-1].outputs
    return result.ran, prodml.load_table(output.ref, client=client)["x"].to_pylist()


def test_a_helper_edited_between_two_runs_in_one_process_runs_its_new_code_in_every_step(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project)
    assert _last(sqlite_client, project) == (["load", "shift", "again"], [3, 4, 5])

    project.edit("helpers.py", "return 1", "return 10")

    assert _last(sqlite_client, project) == (["shift", "again"], [21, 22, 23])
    project.edit("helpers.py", "return 10", "return 100")
    assert _last(sqlite_client, project) == (["shift", "again"], [201, 202, 203])


def test_a_step_module_edited_between_two_runs_runs_its_new_code(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project)
    _last(sqlite_client, project)

    project.edit("again.py", "helpers.offset())", "helpers.offset() * 3)")

    assert _last(sqlite_client, project) == (["again"], [5, 6, 7])


def test_an_edit_of_the_same_size_within_the_same_second_is_not_hidden_by_cached_bytecode(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project)
    helper = project.folder / "helpers.py"
    second = int(time.time()) * 1_000_000_000
    os.utime(helper, ns=(second, second))  # Python's bytecode cache keeps whole seconds
    assert _last(sqlite_client, project)[1] == [3, 4, 5]

    helper.write_text(helper.read_text().replace("return 1", "return 7"))
    os.utime(helper, ns=(second + 500_000_000, second + 500_000_000))

    assert _last(sqlite_client, project) == (["shift", "again"], [15, 16, 17])


def test_a_cached_pipeline_does_not_import_its_step_modules(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project)
    project.run(sqlite_client)
    for name in ("loading", "shifting", "again", "helpers"):
        sys.modules.pop(name, None)  # as in a new process

    assert project.run(sqlite_client).ran == []

    assert not {"loading", "shifting", "again", "helpers"} & set(sys.modules)


def test_a_step_function_made_at_run_time_is_imported_to_read_its_parameters(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write(
        "pipeline.yaml",
        """
        name: made
        config:
          shift: {by: 2}
        steps:
          - {name: shift, function: factory:shift, inputs: {table: numbers@latest}}
        """,
    )
    project.write(
        "factory.py",
        """
        import pyarrow as pa
        import pyarrow.compute as pc


        def shifter(scale):
            def shift(table: pa.Table, by: int) -> pa.Table:
                return pa.table({"x": pc.add(table["x"], by * scale)})

            return shift


        shift = shifter(1)
        """,
    )
    assert _last(sqlite_client, project) == (["shift"], [3, 4, 5])

    project.edit("factory.py", "shifter(1)", "shifter(10)")

    assert _last(sqlite_client, project) == (["shift"], [21, 22, 23])


def test_two_pipelines_with_modules_of_the_same_names_each_run_their_own_in_one_process(
    sqlite_client: Client, tmp_path: Path
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    first, second = Project(tmp_path / "first"), Project(tmp_path / "second")
    for project, offset in ((first, 1), (second, 100)):
        project.write("pipeline.yaml", PIPELINE.replace("name: live", f"name: live-{offset}"))
        project.write("loading.py", LOADING)
        project.write("shifting.py", SHIFTING)
        project.write("again.py", AGAIN)
        project.write("helpers.py", f"def offset() -> int:\n    return {offset}\n")

    assert _last(sqlite_client, first)[1] == [3, 4, 5]
    assert _last(sqlite_client, second)[1] == [201, 202, 203]
    first.edit("helpers.py", "return 1", "return 2")
    assert _last(sqlite_client, first) == (["shift", "again"], [5, 6, 7])
    assert _last(sqlite_client, second) == ([], [201, 202, 203])
