"""A range searched on a log scale has no step (Optuna takes none): the space file is
refused naming the parameter, before the sweep starts; it stopped with 'Unexpected
error: ValueError: The parameter `step` is not supported when `log` is true'."""

from __future__ import annotations

import pytest

from prodml.errors import InvalidInputError
from prodml.pipelines import space


@pytest.mark.parametrize(
    "parameter",
    [
        {"float": [0.01, 0.3], "log": True, "step": 0.01},
        {"int": [4, 64], "log": True, "step": 2},
    ],
)
def test_a_log_range_with_a_step_is_refused(parameter: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError) as raised:
        space.read({"objective": "auc", "parameters": {"train.rate": parameter}})

    message = str(raised.value)
    assert "parameters['train.rate']" in message
    assert "log: true" in message and "step" in message and "tpe sampler" in message


def test_a_grid_lists_a_log_range_by_its_step() -> None:
    read = space.read(
        {
            "objective": "auc",
            "sampler": "grid",
            "parameters": {"train.rate": {"float": [0.1, 0.3], "log": True, "step": 0.1}},
        }
    )

    assert space.grid(read) == {"train.rate": [0.1, 0.2, 0.3]}


def test_a_log_range_with_a_step_of_one_whole_number_is_taken() -> None:
    read = space.read(
        {"objective": "auc", "parameters": {"train.n": {"int": [4, 64], "log": True, "step": 1}}}
    )

    assert read.parameters["train.n"].log


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_choice_that_is_not_a_finite_number_is_refused(value: float) -> None:
    with pytest.raises(InvalidInputError, match=r"choice\[1\] is (nan|inf); .*a finite number"):
        space.read({"objective": "auc", "parameters": {"train.rate": {"choice": [1.0, value]}}})


@pytest.mark.parametrize(
    ("parameter", "values"),
    [
        ({"float": [0.0, 1.0], "step": 0.3}, {0.0, 0.3, 0.6, 0.9}),
        ({"int": [0, 5], "step": 2}, {0, 2, 4}),
    ],
)
def test_a_step_that_does_not_divide_the_range_gives_no_warning(
    parameter: dict[str, object], values: set[float], recwarn: pytest.WarningsRecorder
) -> None:
    optuna = space.optuna()
    read = space.read(
        {"objective": "auc", "sampler": "random", "parameters": {"train.rate": parameter}}
    )
    study = optuna.create_study(sampler=space.sampler(read))

    drawn = {space.suggest(study.ask(), read)["train.rate"] for _ in range(40)}

    assert {round(v, 9) for v in drawn} <= values
    assert [str(w.message) for w in recwarn] == []
