"""Suites: every mistake in a suite document is refused naming its field, before any
model is scored; a dataset the suite names but the store lacks is named at evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from evaluation_helpers import classifier, customers, log_models, suite

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError, NotFoundError
from prodml.evaluate.suite import Rule, parse


def test_a_minimal_suite_gets_the_task_defaults() -> None:
    parsed = parse({"task": "regression", "label": "price", "validation_sets": "houses"})

    assert parsed.metrics == ("mae", "rmse", "r2")
    assert parsed.valsets == ("houses",)
    assert parsed.rules == (Rule(metric="mae", max_regression=0.0),)
    assert (parsed.resamples, parsed.confidence, parsed.min_rows) == (1000, 0.95, 100)
    assert parsed.against == "champion" and parsed.mode == "observed"
    classification = parse({"task": "classification", "label": "y", "validation_sets": ["v"]})
    assert classification.metrics == ("auc", "accuracy", "log_loss", "recall")


def test_a_full_suite_is_read_as_written() -> None:
    parsed = parse(
        suite(
            metrics=["auc", "accuracy"],
            custom_metrics=[
                {"name": "hand_accuracy", "function": "evaluation_helpers:share_right"}
            ],
            product_metrics=[
                {"name": "cost", "function": "evaluation_helpers:retention_cost"},
            ],
            slices=[
                {"name": "east", "where": {"region": "east"}, "tolerance": 0.05},
                {"name": "heavy", "where": "usage > 1"},
                {"by": "region", "limit": 2},
            ],
            scenarios=["must-pass"],
            gate={
                "min_rows": 50,
                "mode": "non_inferiority",
                "rules": [
                    {"metric": "auc", "max_regression": 0.01, "slices": ["all", "east"]},
                    {"metric": "cost", "at_most": 0.8},
                    {"must_pass": True},
                ],
            },
        )
    )

    assert parsed.metric_names() == ["auc", "accuracy", "hand_accuracy", "cost"]
    hand, cost = parsed.functions
    assert (hand.per_row, hand.higher_is_better, hand.product) == (False, True, False)
    assert (cost.per_row, cost.higher_is_better, cost.product) == (True, False, True)
    assert [(s.name, s.where, s.by) for s in parsed.slices] == [
        ("east", "\"region\" = 'east'", ""),
        ("heavy", "usage > 1", ""),
        ("", "", "region"),
    ]
    assert parsed.tolerance("east", "auc") == 0.05 and parsed.tolerance("heavy", "auc") is None
    assert parsed.rules == (
        Rule(metric="auc", max_regression=0.01, slices=("all", "east")),
        Rule(metric="cost", at_most=0.8),
        Rule(must_pass=True),
    )
    assert parsed.min_rows == 50 and parsed.auto_count == 0 and parsed.resamples == 200
    assert parsed.mode == "non_inferiority"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "Suite field\\(s\\) 'colour' are not known"),
        ({"task": "clustering"}, "Suite field 'task' is 'clustering'"),
        ({"label": ""}, "Suite field 'label' is missing"),
        ({"validation_sets": []}, "Suite field 'validation_sets' is empty"),
        ({"metrics": ["auc", "mape"]}, "'mape' is not a built-in classification metric"),
        ({"metrics": ["mae"]}, "'mae' is not a built-in classification metric"),
        ({"metrics": ["auc", "auc"]}, "Suite names metric 'auc' twice"),
        (
            {"gate": {"rules": [{"metric": "auc"}]}},
            "'gate.rules\\[0\\]' needs exactly one of max_regression, at_least or at_most",
        ),
        (
            {"gate": {"rules": [{"metric": "auc", "at_least": 0.7, "at_most": 0.9}]}},
            "'gate.rules\\[0\\]' needs exactly one of",
        ),
        (
            {"gate": {"rules": [{"metric": "r2", "at_least": 0.5}]}},
            "'gate.rules\\[0\\].metric' is 'r2', not a metric of this suite",
        ),
        (
            {"gate": {"rules": [{"metric": "auc", "max_regression": "small"}]}},
            "'gate.rules\\[0\\].max_regression' is 'small'",
        ),
        ({"gate": {"min_rows": 0}}, "'gate.min_rows' is 0"),
        (
            {"gate": {"mode": "strict"}},
            "'gate.mode' is 'strict': use 'observed' .* 'non_inferiority'",
        ),
        ({"gate": {"mode": ["observed"]}}, "'gate.mode' is \\['observed'\\]"),
        ({"gate": {"mdoe": "observed"}}, "gate.mdoe are not known. Known gate fields: against"),
        ({"gate": ["auc"]}, "Suite field 'gate' must be a mapping"),
        ({"slices": [{"name": "heavy"}]}, "Suite field 'slices\\[0\\].where' must be SQL text"),
        ({"slices": [{"where": "usage > 1"}]}, "Suite field 'slices\\[0\\].name' is missing"),
        ({"slices": [{"name": "all", "where": "usage > 1"}]}, "'all' is reserved"),
        (
            {"slices": [{"name": "a", "where": "x"}, {"name": "a", "where": "y"}]},
            "Suite names slice 'a' twice",
        ),
        ({"slices": "region"}, "Suite field 'slices' must be a list"),
        (
            {"custom_metrics": [{"name": "lift", "function": "lift_at_10"}]},
            "'custom_metrics\\[0\\].function' is 'lift_at_10': write module:function",
        ),
        (
            {"product_metrics": [{"name": "cost", "function": "m:cost", "kind": "table"}]},
            "'product_metrics\\[0\\].kind' is 'table'",
        ),
        (
            {"custom_metrics": [{"name": "c", "function": "m:c", "higher_is_better": "yes"}]},
            "'custom_metrics\\[0\\].higher_is_better' must be true or false",
        ),
        ({"bootstrap": {"resamples": -5}}, "'bootstrap.resamples' is -5"),
        ({"bootstrap": {"confidence": 1.5}}, "'bootstrap.confidence' is 1.5"),
        ({"threshold": 2}, "'threshold' is 2"),
    ],
)
def test_bad_suites_are_refused_naming_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse(suite(**change))


def test_register_suite_checks_stores_and_versions_documents(
    client: Client, tmp_path: Path
) -> None:
    log_models(client, "churn", [classifier()])
    with pytest.raises(InvalidInputError, match="Suite field 'task'"):
        prodml.register_suite("churn", suite(task="ranking"), client=client)
    with pytest.raises(NotFoundError, match="No evaluation suite for model 'churn'"):
        client.metadata.get_suite("churn")
    file = tmp_path / "suite.yaml"
    file.write_text(
        "task: classification\nlabel: churned\nvalidation_sets: [holdout]\n"
        "metrics: [auc]\nbootstrap: {resamples: 200}\n"
    )

    assert prodml.register_suite("churn", file, client=client) == 1
    assert prodml.register_suite("churn", str(file), client=client) == 1  # unchanged: same one
    assert prodml.register_suite("churn", suite(metrics=["accuracy"]), client=client) == 2

    number, document = client.metadata.get_suite("churn")
    assert (number, document["metrics"]) == (2, ["accuracy"])
    with pytest.raises(NotFoundError):
        prodml.register_suite("no-such-model", suite(), client=client)
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: [classification\n")
    with pytest.raises(InvalidInputError, match="broken\\.yaml is not valid YAML"):
        prodml.register_suite("churn", broken, client=client)


def test_a_suite_naming_a_missing_dataset_fails_at_evaluation_naming_the_field(
    client: Client,
) -> None:
    log_models(client, "churn", [classifier()])
    prodml.log_dataset("holdout", customers(), client=client)
    prodml.register_suite("churn", suite(validation_sets=["holdout", "holdot"]), client=client)

    with pytest.raises(NotFoundError, match="Suite field 'validation_sets' names 'holdot'"):
        prodml.evaluate_model("churn@1", client=client)

    prodml.register_suite("churn", suite(scenarios=["must-pass"]), client=client)
    with pytest.raises(NotFoundError, match="Suite field 'scenarios' names 'must-pass'"):
        prodml.evaluate_model("churn@1", client=client)
    assert client.metadata.evaluations(prodml.get_model("churn@1", client=client).id) == []


def test_a_slice_that_is_not_valid_sql_for_the_set_is_named(client: Client) -> None:
    log_models(client, "churn", [classifier()])
    prodml.log_dataset("holdout", customers(), client=client)
    prodml.register_suite(
        "churn", suite(slices=[{"name": "old", "where": "age > 60"}]), client=client
    )

    with pytest.raises(InvalidInputError, match="Slice 'old' \\(where: age > 60\\) cannot be"):
        prodml.evaluate_model("churn@1", client=client)
