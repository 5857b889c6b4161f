"""A step returning a NumPy array or a pandas Series (not stored as such) is refused
saying how to make it a table."""

from __future__ import annotations

import pytest
from pipeline_project import Project

from prodml.client import Client
from prodml.errors import InvalidInputError

STEPS = """
import numpy as np
import pandas as pd


def arrays() -> dict:
    return {"X": np.zeros((3, 2)), "y": pd.Series([1, 2, 3])}
"""


def test_an_array_output_is_refused_with_how_to_make_it_a_table(
    sqlite_client: Client, project: Project
) -> None:
    project.write("pipeline.yaml", "name: arrays\nsteps: [{name: split, function: steps:arrays}]\n")
    project.write("steps.py", STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client)

    message = str(raised.value)
    assert "returned 'X' 'ndarray'" in message
    assert message.endswith("as a table: pd.DataFrame(array), series.to_frame().")
