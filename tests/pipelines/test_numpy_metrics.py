"""A step's metrics computed with NumPy (``np.float32`` means, ``np.int64`` counts,
``np.float64`` scores) are metrics like Python numbers: logged on the step's run and
the pipeline's, and a NumPy number returned alone is kept as a value."""

from __future__ import annotations

import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.domain.steps import OutputKind
from prodml.errors import InvalidInputError

PIPELINE = """
name: numpy-metrics
steps:
  - {name: score, function: steps:score, inputs: {table: numbers@latest}}
  - {name: count, function: steps:count, inputs: {table: numbers@latest}}
"""

STEPS = """
import numpy as np
import pyarrow as pa


def score(table: pa.Table) -> dict:
    x = np.asarray(table["x"], dtype=np.float32)
    return {"mean": x.mean(), "positives": (x > 1).sum(), "share": np.float64(0.5)}


def count(table: pa.Table):
    return np.int64(table.num_rows)
"""


def test_numpy_numbers_are_metrics_and_values(sqlite_client: Client, project: Project) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)

    result = project.run(sqlite_client)

    assert result.metrics == {"mean": 2.0, "positives": 2.0, "share": 0.5}
    score, count = result.steps
    assert [o.kind for o in score.outputs] == [OutputKind.METRICS]
    assert prodml.get_run(score.run_id, client=sqlite_client).metrics == result.metrics
    assert [(o.kind, o.value) for o in count.outputs] == [(OutputKind.VALUE, 3)]
    again = project.run(sqlite_client)
    assert [s.cached for s in again.steps] == [True, True]
    assert again.metrics == result.metrics


def test_a_numpy_nan_metric_is_refused_by_name(sqlite_client: Client, project: Project) -> None:
    log_numbers(sqlite_client, [1])
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS.replace("x.mean()", "np.float32('nan')"))

    with pytest.raises(InvalidInputError, match="mean=nan"):
        project.run(sqlite_client)
