"""A trial whose step returned the objective as one named output beside a model
({"model": m, "auc": 0.9}: a value, not a metric) fails saying how to return it as a
metric; it said only that the pipeline logged no metric 'auc'."""

from __future__ import annotations

from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client

STEPS = """
import pyarrow as pa


def train(numbers: pa.Table, alpha: float) -> dict:
    return {"weights": [alpha, 1.0], "score": alpha}
"""
PIPELINE = """
name: hint
config:
  train: {alpha: 0.5}
steps:
  - {name: train, function: "steps:train", inputs: {numbers: numbers@latest}}
"""


def test_an_objective_returned_as_a_value_is_named_in_the_failure(
    project: Project, sqlite_client: Client
) -> None:
    log_numbers(sqlite_client, [1])
    project.write("steps.py", STEPS)
    project.write("pipeline.yaml", PIPELINE)
    space = {
        "objective": "score",
        "sampler": "grid",
        "parameters": {"train.alpha": {"choice": [0.1]}},
    }

    result = prodml.sweep(project.pipeline, space, trials=1, client=sqlite_client)

    (trial,) = result.trials
    assert trial.outcome.state == "failed"
    error = trial.outcome.error or ""
    assert "Step 'train' returned 'score' as a value" in error
    assert "{'metrics': {'score': ...}" in error
