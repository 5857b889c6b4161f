"""A trial whose step returned the objective as one named output beside a model
({"model": m, "auc": 0.9}: a value, not a metric) fails saying how to return it as a
metric; it said only that the pipeline logged no metric 'auc'."""

from __future__ import annotations

from pipeline_project import Project, alpha_grid, one_training_step

import prodml
from prodml.client import Client

STEPS = """
import pyarrow as pa


def train(numbers: pa.Table, alpha: float) -> dict:
    return {"weights": [alpha, 1.0], "score": alpha}
"""


def test_an_objective_returned_as_a_value_is_named_in_the_failure(
    project: Project, sqlite_client: Client
) -> None:
    one_training_step(project, sqlite_client, "hint", STEPS, "{alpha: 0.5}")
    result = prodml.sweep(project.pipeline, alpha_grid(0.1), trials=1, client=sqlite_client)

    (trial,) = result.trials
    assert trial.outcome.state == "failed"
    error = trial.outcome.error or ""
    assert "Step 'train' returned 'score' as a value" in error
    assert "{'metrics': {'score': ...}" in error
