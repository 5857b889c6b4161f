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
        ({"colour": "red"}, "Suite: colour is not a known field; known: auto_slices"),
        ({"task": "clustering"}, "Suite: task is 'clustering'; use 'classification' or"),
        ({"label": ""}, "Suite: label is ''; give non-blank text"),
        ({"validation_sets": []}, "Suite: validation_sets is \\[\\]; give at least 1 item"),
        ({"metrics": ["auc", "mape"]}, "'mape' is not a built-in classification metric"),
        ({"metrics": ["mae"]}, "'mae' is not a built-in classification metric"),
        ({"metrics": ["auc", "auc"]}, "Suite names metric 'auc' twice"),
        (
            {"gate": {"rules": [{"metric": "auc"}]}},
            "gate.rules\\[0\\] needs exactly one of max_regression, at_least or at_most",
        ),
        (
            {"gate": {"rules": [{"metric": "auc", "at_least": 0.7, "at_most": 0.9}]}},
            "gate.rules\\[0\\] needs exactly one of",
        ),
        (
            {"gate": {"rules": [{"metric": "r2", "at_least": 0.5}]}},
            "gate.rules\\[0\\].metric is 'r2', not a metric of this suite",
        ),
        (
            {"gate": {"rules": [{"metric": "auc", "max_regression": "small"}]}},
            "gate.rules\\[0\\].max_regression is 'small'; give a number",
        ),
        (
            {"gate": {"rules": [{"metric": "auc", "max_regression": float("nan")}]}},
            "gate.rules\\[0\\] has a bound that is not a number",
        ),
        ({"gate": {"min_rows": 0}}, "gate.min_rows is 0; give a whole number >= 1"),
        (
            {"gate": {"mode": "strict"}},
            "gate.mode is 'strict'; use 'observed' or 'non_inferiority'",
        ),
        ({"gate": {"mode": ["observed"]}}, "gate.mode is \\['observed'\\]"),
        (
            {"gate": {"mdoe": "observed"}},
            "gate.mdoe is not a known field; known: against, min_rows",
        ),
        ({"gate": ["auc"]}, "Suite: gate is \\['auc'\\]; give a mapping with the fields against"),
        ({"slices": [{"name": "heavy"}]}, "Suite: slices\\[0\\] needs where: SQL text"),
        ({"slices": [{"where": "usage > 1"}]}, "Suite: slices\\[0\\] needs a name and where"),
        ({"slices": [{"name": "all", "where": "usage > 1"}]}, "'all', which is reserved"),
        ({"slices": [{"name": "a", "where": ""}]}, "slices\\[0\\].where is ''; give non-blank"),
        (
            {"slices": [{"name": "a", "where": "x"}, {"name": "a", "where": "y"}]},
            "Suite names slice 'a' twice",
        ),
        ({"slices": "region"}, "Suite: slices is 'region'; give a list"),
        (
            {"slices": [{"name": "a", "where": "x", "tolerance": {"auc": -1}}]},
            "slices\\[0\\].tolerance.auc is -1; give a number >= 0",
        ),
        (
            {"custom_metrics": [{"name": "lift", "function": "lift_at_10"}]},
            "custom_metrics\\[0\\].function is 'lift_at_10'; write module:function",
        ),
        (
            {"product_metrics": [{"name": "cost", "function": "m:cost", "kind": "table"}]},
            "product_metrics\\[0\\].kind is 'table'; use 'row'",
        ),
        (
            {"custom_metrics": [{"name": "c", "function": "m:c", "higher_is_better": "yes"}]},
            "custom_metrics\\[0\\].higher_is_better is 'yes'; give true or false",
        ),
        ({"bootstrap": {"resamples": -5}}, "bootstrap.resamples is -5; give a whole number >= 0"),
        (
            {"bootstrap": {"confidence": 1.5}},
            "bootstrap.confidence is 1.5; give a number <= 0.9999",
        ),
        ({"threshold": 2}, "Suite: threshold is 2; give a number <= 1"),
    ],
)
def test_bad_suites_are_refused_naming_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse(suite(**change))


def test_register_suite_checks_stores_and_versions_documents(
    client: Client, tmp_path: Path
) -> None:
    log_models(client, "churn", [classifier()])
    with pytest.raises(InvalidInputError, match="Suite: task is 'ranking'"):
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

    stored = client.metadata.get_suite("churn")
    assert (stored.name, stored.version, stored.document["metrics"]) == ("churn", 2, ["accuracy"])
    assert (stored.author, client.metadata.get_suite("churn", 1).document["metrics"]) == (
        "tester",
        ["auc"],
    )
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
