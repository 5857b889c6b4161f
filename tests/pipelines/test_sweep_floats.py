"""A trial's values reach its steps as the sampler chose them: a float Python writes
with an exponent and no point (1e-05, 1e+16) was read back as the text '1e-05', so
every trial that drew it failed ("takes alpha: float, but the config gives '1e-05',
which is text")."""

from __future__ import annotations

import pytest
from pipeline_project import Project, one_training_step

import prodml
from prodml.client import Client
from prodml.pipelines.config import override
from prodml.pipelines.trials import values_as_overrides

STEPS = """
import pyarrow as pa


def train(numbers: pa.Table, alpha: float, name: str) -> dict:
    assert isinstance(alpha, float), repr(alpha)
    assert isinstance(name, str), repr(name)
    return {"score": -abs(alpha - 1e-05)}
"""


@pytest.mark.parametrize(
    "value", [1e-05, 1e16, -2.5e-07, 0.1, 3, True, None, "1e-05", "yes", "2013-03-15", "ü'\""]
)
def test_a_trial_value_reads_back_as_itself(value: object) -> None:
    config = {"train": {"alpha": 0.5}}

    (setting,) = values_as_overrides({"train.alpha": value})

    assert override(config, [setting])["train"]["alpha"] == value
    assert type(override(config, [setting])["train"]["alpha"]) is type(value)


def test_a_sweep_over_small_floats_completes_every_trial(
    project: Project, sqlite_client: Client
) -> None:
    one_training_step(project, sqlite_client, "small-floats", STEPS, "{alpha: 0.5, name: a}")
    space = {
        "objective": "score",
        "sampler": "grid",
        "parameters": {
            "train.alpha": {"choice": [0.00001, 1e16]},
            "train.name": {"choice": ["1e-05", "no"]},
        },
    }

    result = prodml.sweep(project.pipeline, space, trials=4, client=sqlite_client)

    assert [t.outcome.error for t in result.trials] == [None] * 4
    assert result.best is not None and result.best.values["train.alpha"] == 1e-05
