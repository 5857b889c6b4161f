"""Metrics and params: one call per value, steps, checked values, write-once params."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError, MetricValueError, ParamConflictError


def _history(client: Client, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in prodml.metric_history(run_id, key, client=client)]


def test_each_call_is_one_point_with_automatic_steps(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        for value in (0.9, 0.5, 0.25):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.7)

    assert _history(client, run.id, "loss") == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert _history(client, run.id, "acc") == [(0, 0.7)]
    assert prodml.get_run(run.id, client=client).metrics == {"loss": 0.25, "acc": 0.7}


def test_explicit_steps_and_automatic_steps_continue_from_them(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        run.log_metric("loss", 0.5, step=10)
        run.log_metric("loss", 0.4)
        run.log_metric("loss", 0.9, step=np.int64(3))
        run.log_metric("loss", 0.3, step=20)

    assert _history(client, run.id, "loss") == [(3, 0.9), (10, 0.5), (11, 0.4), (20, 0.3)]
    assert prodml.get_run(run.id, client=client).metrics["loss"] == 0.3


def test_the_latest_metric_is_the_highest_step_not_the_last_call(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        run.log_metric("loss", 0.1, step=100)
        run.log_metric("loss", 0.9, step=1)

    assert prodml.get_run(run.id, client=client).metrics["loss"] == 0.1


def test_log_metrics_logs_several_at_one_step(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        run.log_metrics({"auc": 0.8, "f1": 0.6}, step=5)
        run.log_metrics({"auc": 0.85, "f1": 0.65})

    assert _history(client, run.id, "auc") == [(5, 0.8), (6, 0.85)]
    assert _history(client, run.id, "f1") == [(5, 0.6), (6, 0.65)]


def test_numbers_of_any_numeric_type_are_accepted(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        run.log_metric("int", 3)
        run.log_metric("numpy", np.float32(0.5))
        run.log_metric("decimal", Decimal("1.25"))

    assert prodml.get_run(run.id, client=client).metrics == {
        "int": 3.0,
        "numpy": 0.5,
        "decimal": 1.25,
    }


def test_nan_and_infinities_are_stored(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        for value in (1.0, math.nan, math.inf, -math.inf):
            run.log_metric("loss", value)

    values = [value for _, value in _history(client, run.id, "loss")]
    assert values[0] == 1.0
    assert math.isnan(values[1])
    assert values[2:] == [math.inf, -math.inf]


@pytest.mark.parametrize("value", ["0.9", None, True, b"1", [0.9], complex(1, 1)])
def test_a_value_that_is_not_a_number_is_refused_and_nothing_stored(
    client: Client, value: object
) -> None:
    with prodml.start_run("fit", client=client) as run:
        with pytest.raises(MetricValueError) as raised:
            run.log_metric("auc", value)
        message = str(raised.value)
        assert "'auc'" in message and run.id[:12] in message
        with pytest.raises(MetricValueError, match="'auc'"):
            run.log_metrics({"loss": 0.5, "auc": value})

    assert client.metadata.count_metric_points(run.id) == 0
    assert prodml.get_run(run.id, client=client).metrics == {}


def test_a_bad_metric_name_or_step_is_refused(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        with pytest.raises(InvalidInputError, match="Metric name"):
            run.log_metric("", 0.5)
        with pytest.raises(InvalidInputError, match="Metric name"):
            run.log_metric(3, 0.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="255") as too_long:
            run.log_metric("x" * 1000, 0.5)
        assert "1,000 characters" in str(too_long.value) and len(str(too_long.value)) < 300
        with pytest.raises(InvalidInputError, match="255"):
            run.log_param("p" * 256, 1)
        with pytest.raises(InvalidInputError, match="Step"):
            run.log_metric("loss", 0.5, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="Step"):
            run.log_metric("loss", 0.5, step=True)

        run.log_metric("k" * 255, 0.5)

    assert _history(client, run.id, "k" * 255) == [(0, 0.5)]
    assert client.metadata.count_metric_points(run.id) == 1


def test_a_param_may_be_logged_again_with_the_same_value_only(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        run.log_param("lr", 0.1)
        run.log_params({"lr": 0.1, "depth": 6})
        with pytest.raises(ParamConflictError) as raised:
            run.log_param("lr", 0.2)
        message = str(raised.value)
        assert "'lr'" in message and run.id[:12] in message and "0.2" in message
        with pytest.raises(ParamConflictError, match="'depth'"):
            run.log_params({"batch": 32, "depth": 7})

    assert prodml.get_run(run.id, client=client).params == {"lr": "0.1", "depth": "6"}


def test_params_are_stored_as_text(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        run.log_params({"flag": True, "none": None, "ratio": 2.0, "name": "gbm", "n": 3})

    assert prodml.get_run(run.id, client=client).params == {
        "flag": "True",
        "none": "None",
        "ratio": "2.0",
        "name": "gbm",
        "n": "3",
    }
