"""A sweep's name finds its trials (prodml sweep best NAME): a second sweep given the
name of an earlier one is refused before it runs anything, since its trials would be
ranked with the first one's (under whichever sweep's objective came first)."""

from __future__ import annotations

import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError

STEPS = """
import pyarrow as pa


def train(numbers: pa.Table, alpha: float) -> dict:
    return {"score": -((alpha - 0.3) ** 2), "size": alpha * 10}
"""
PIPELINE = """
name: named
config:
  train: {alpha: 0.5}
steps:
  - {name: train, function: "steps:train", inputs: {numbers: numbers@latest}}
"""


def test_a_sweep_name_taken_by_an_earlier_sweep_is_refused(
    project: Project, sqlite_client: Client
) -> None:
    log_numbers(sqlite_client, [1, 2])
    project.write("steps.py", STEPS)
    project.write("pipeline.yaml", PIPELINE)
    space = {
        "objective": "score",
        "sampler": "grid",
        "parameters": {"train.alpha": {"choice": [0.1, 0.3]}},
    }
    first = prodml.sweep(project.pipeline, space, trials=2, name="it's-ü", client=sqlite_client)
    runs_before = prodml.search_runs("", limit=500, client=sqlite_client).total

    other = {**space, "objective": "size", "direction": "minimize"}
    with pytest.raises(InvalidInputError) as raised:
        prodml.sweep(project.pipeline, other, trials=2, name="it's-ü", client=sqlite_client)

    message = str(raised.value)
    assert "it's-ü" in message and first.run_id[:12] in message and "--name" in message
    assert prodml.search_runs("", limit=500, client=sqlite_client).total == runs_before
    best = prodml.best_trial("it's-ü", client=sqlite_client)
    assert best.config["train"]["alpha"] == 0.3
