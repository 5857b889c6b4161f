"""A step input naming a set of files (a folder or a non-table file logged as a
dataset) is refused before any step runs, naming the step and the input; it was found
only when that step was reached, after the steps before it had run."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_project import CHAIN_STEPS, Project, log_numbers

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError

FILES_LATE = """
name: demo
config:
  scale: {factor: 3}
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: scale, function: steps:scale, inputs: {table: load}}
  - {name: total, function: steps:total, inputs: {table: pictures@latest}}
"""


def test_a_set_of_files_as_a_step_input_is_refused_before_any_step(
    sqlite_client: Client, project: Project, tmp_path: Path
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG")
    prodml.log_dataset("pictures", folder, client=sqlite_client)
    project.write("pipeline.yaml", FILES_LATE)
    project.write("steps.py", CHAIN_STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client)

    assert str(raised.value).startswith(
        "Step 'total': input 'table' is pictures@1, a set of files, not a table"
    )
    assert sqlite_client.metadata.list_runs() == []  # nothing ran
