"""Comparing two runs: what differs in config, params, inputs and metrics."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.errors import NotFoundError
from prodml.track.compare import Difference


def _two_runs(client: Client) -> tuple[str, str, str, str]:
    old = prodml.log_dataset("flights", pd.DataFrame({"a": [1, 2]}), client=client)
    new = prodml.log_dataset("flights", pd.DataFrame({"a": [1, 2, 3]}), client=client)
    weather = prodml.log_dataset("weather", pd.DataFrame({"t": [1.5]}), client=client)
    with prodml.start_run(
        "delay",
        config={"model": {"depth": 6, "lr": 0.1}, "seed": 1},
        hypothesis="baseline",
        inputs=[old, weather],
        client=client,
    ) as left:
        left.log_params({"trees": 100, "loss": "log"})
        left.log_metric("auc", 0.80)
        left.log_metric("rmse", 2.0)
        left.log_metric("only_left", 1.0)
    with prodml.start_run(
        "delay",
        config={"model": {"depth": 8, "lr": 0.1}, "seed": 1, "early_stop": True},
        hypothesis="deeper trees",
        inputs=[new, weather],
        client=client,
    ) as right:
        right.log_params({"trees": 200, "loss": "log"})
        right.log_metric("auc", 0.85)
        right.log_metric("rmse", math.nan)
    return left.id, right.id, old.id, new.id


def test_compare_shows_what_changed_between_two_runs(client: Client) -> None:
    left, right, old, new = _two_runs(client)

    result = prodml.compare_runs(left[:8], right[:8], client=client)

    assert (result.left.id, result.right.id) == (left, right)
    assert result.config == (
        Difference("model.depth", 6, 8),
        Difference("early_stop", None, True),
    )
    assert result.params == (Difference("trees", "100", "200"),)
    assert result.inputs == (
        Difference("flights", f"flights@1 [{old[:12]}]", f"flights@2 [{new[:12]}]"),
    )
    metrics = {row.name: row for row in result.metrics}
    assert metrics["auc"].delta == pytest.approx(0.05)
    assert (metrics["auc"].left, metrics["auc"].right) == (0.80, 0.85)
    assert metrics["rmse"].left == 2.0 and math.isnan(metrics["rmse"].right)
    assert metrics["rmse"].delta is None
    assert (metrics["only_left"].right, metrics["only_left"].delta) == (None, None)


def test_a_run_compared_with_itself_shows_no_differences(client: Client) -> None:
    left, _, _, _ = _two_runs(client)

    result = prodml.compare_runs(left, left, client=client)

    assert result.config == result.params == result.inputs == ()
    assert all(row.delta in (0.0, None) for row in result.metrics)
    assert result.code.same
    assert result.code.left_diff == "not a git checkout"


def test_compare_with_an_unknown_run_names_it(client: Client) -> None:
    left, _, _, _ = _two_runs(client)

    with pytest.raises(NotFoundError, match="'feedface'"):
        prodml.compare_runs(left, "feedface", client=client)


def test_two_versions_of_one_dataset_as_inputs_are_compared_as_a_set(client: Client) -> None:
    one = prodml.log_dataset("churn", {"a": [1]}, client=client)
    two = prodml.log_dataset("churn", {"a": [2]}, client=client)
    three = prodml.log_dataset("churn", {"a": [3]}, client=client)
    with prodml.start_run("c", inputs=[one, two], client=client) as left:
        pass
    with prodml.start_run("c", inputs=[one, three], client=client) as right:
        pass
    (change,) = prodml.compare_runs(left.id, right.id, client=client).inputs
    assert "churn@2" in change.left and "churn@3" in change.right
    assert "churn@1" in change.left and "churn@1" in change.right


def test_a_single_reference_is_accepted_as_the_inputs(client: Client) -> None:
    version = prodml.log_dataset("single", {"a": [1]}, client=client)
    with prodml.start_run("c", inputs="single@1", client=client) as run:  # type: ignore[arg-type]
        pass
    assert client.metadata.get_run(run.id).inputs == (version.id,)
