"""Evaluation scores: built-in metrics equal scikit-learn's on the same rows, per slice,
with intervals around them; custom and product metrics; the result is stored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import (
    FEATURES,
    LABEL,
    classifier,
    customers,
    estimate,
    flipped_in_east,
    house_prices,
    log_models,
    price_model,
    suite,
)
from sklearn import metrics as sk

import prodml
from prodml.client import Client
from prodml.domain.evaluation import Evaluation
from prodml.evaluate.evaluations import stored


def _classification_scores(rows: pd.DataFrame) -> dict[str, float]:
    model = classifier()
    proba = model.predict_proba(rows[FEATURES])[:, 1]
    said = model.predict(rows[FEATURES])
    truth = rows[LABEL]
    return {
        "auc": sk.roc_auc_score(truth, proba),
        "accuracy": sk.accuracy_score(truth, said),
        "log_loss": sk.log_loss(truth, proba),
        "recall": sk.recall_score(truth, said),
    }


def _check_intervals(evaluation: Evaluation) -> None:
    for score in evaluation.scores:
        found = score.estimate
        assert found.low <= found.value <= found.high, score
        assert found.high - found.low < 0.2 * max(1.0, abs(found.value)), score


def test_classification_metrics_match_scikit_learn_on_all_rows_and_a_slice(
    client: Client,
) -> None:
    holdout = customers()
    prodml.log_dataset("holdout", holdout, client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite(
        "churn", suite(slices=[{"name": "heavy", "where": "usage > 0.5"}]), client=client
    )

    evaluation = prodml.evaluate_model("churn@1", client=client)

    assert evaluation.valsets == ("holdout@1",)
    assert evaluation.metrics == ["auc", "accuracy", "log_loss", "recall"]
    assert evaluation.slices == {"heavy": "usage > 0.5"}
    heavy = holdout[holdout["usage"] > 0.5]
    for name, rows in (("all", holdout), ("heavy", heavy)):
        for metric, expected in _classification_scores(rows).items():
            found = estimate(evaluation, "holdout@1", name, metric)
            assert found.value == pytest.approx(expected, rel=1e-9), (name, metric)
        positives = int(rows[LABEL].sum())
        assert estimate(evaluation, "holdout@1", name, "accuracy").rows == len(rows)
        assert estimate(evaluation, "holdout@1", name, "auc").rows == len(rows)
        assert 0 < positives < len(rows)
    _check_intervals(evaluation)
    assert evaluation.higher_is_better == {
        "auc": True,
        "accuracy": True,
        "log_loss": False,
        "recall": True,
    }
    assert (evaluation.resamples, evaluation.confidence, evaluation.author) == (
        200,
        0.95,
        "tester",
    )


def test_regression_metrics_match_scikit_learn(client: Client) -> None:
    houses = house_prices()
    prodml.log_dataset("houses", houses, client=client)
    example = houses[["rooms", "area"]].head()
    log_models(client, "price", [price_model()], example=example)
    prodml.register_suite(
        "price",
        {
            "task": "regression",
            "label": "price",
            "validation_sets": ["houses"],
            "slices": [{"name": "lyon", "where": {"city": "lyon"}}],
            "bootstrap": {"resamples": 200},
            "auto_slices": {"count": 0},
        },
        client=client,
    )

    evaluation = prodml.evaluate_model("price@1", client=client)

    for name, rows in (("all", houses), ("lyon", houses[houses["city"] == "lyon"])):
        predicted = price_model().predict(rows[["rooms", "area"]])
        expected = {
            "mae": sk.mean_absolute_error(rows["price"], predicted),
            "rmse": float(np.sqrt(sk.mean_squared_error(rows["price"], predicted))),
            "r2": sk.r2_score(rows["price"], predicted),
        }
        for metric, value in expected.items():
            found = estimate(evaluation, "houses@1", name, metric)
            assert found.value == pytest.approx(value, rel=1e-7), (name, metric)
            assert found.rows == len(rows)
    _check_intervals(evaluation)
    assert evaluation.higher_is_better == {"mae": False, "rmse": False, "r2": True}


def test_by_column_makes_one_slice_per_value(client: Client) -> None:
    holdout = customers()
    prodml.log_dataset("holdout", holdout, client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite(
        "churn", suite(metrics=["accuracy"], slices=[{"by": "region"}]), client=client
    )

    evaluation = prodml.evaluate_model("churn@1", client=client)

    assert evaluation.slices == {
        "region=north": "\"region\" = 'north'",
        "region=south": "\"region\" = 'south'",
        "region=east": "\"region\" = 'east'",
    }
    for region, rows in holdout.groupby("region"):
        found = estimate(evaluation, "holdout@1", f"region={region}", "accuracy")
        assert found.rows == len(rows)
        said = classifier().predict(rows[FEATURES])
        assert found.value == pytest.approx(sk.accuracy_score(rows[LABEL], said))


def test_auto_slices_find_where_errors_concentrate(client: Client) -> None:
    prodml.log_dataset("holdout", flipped_in_east(), client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite(
        "churn",
        suite(
            metrics=["auc", "accuracy"],
            features=["usage", "tenure", "region"],
            auto_slices={"count": 3, "min_rows": 200},
        ),
        client=client,
    )

    evaluation = prodml.evaluate_model("churn@1", client=client)

    auto = {name: where for name, where in evaluation.slices.items() if name.startswith("auto: ")}
    assert auto["auto: region = east"] == "\"region\" = 'east'"
    assert len(auto) <= 3
    east = evaluation.estimate("holdout@1", "auto: region = east", "accuracy")
    overall = evaluation.estimate("holdout@1", "all", "accuracy")
    assert east is not None and overall is not None
    rows = flipped_in_east()
    assert east.rows == int((rows["region"] == "east").sum())
    assert east.value < 0.2 < 0.7 < overall.value


def test_custom_table_and_product_metrics(client: Client) -> None:
    holdout = customers()
    prodml.log_dataset("holdout", holdout, client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite(
        "churn",
        suite(
            metrics=["accuracy"],
            custom_metrics=[
                {"name": "hand_accuracy", "function": "evaluation_helpers:share_right"},
                {"name": "caught", "function": "evaluation_helpers:churners_caught"},
            ],
            product_metrics=[{"name": "cost", "function": "evaluation_helpers:retention_cost"}],
            slices=[{"name": "east", "where": "region = 'east'"}],
        ),
        client=client,
    )

    evaluation = prodml.evaluate_model("churn@1", client=client)

    for name, rows in (("all", holdout), ("east", holdout[holdout["region"] == "east"])):
        truth = rows[LABEL].to_numpy()
        said = classifier().predict(rows[FEATURES])
        accuracy = evaluation.estimate("holdout@1", name, "accuracy")
        by_hand = evaluation.estimate("holdout@1", name, "hand_accuracy")
        assert accuracy is not None and by_hand is not None
        assert by_hand.value == pytest.approx(accuracy.value)
        churners, usage = truth == 1, rows["usage"].abs().to_numpy()
        caught = usage[churners & (said == 1)].sum() / usage[churners].sum()
        assert estimate(evaluation, "holdout@1", name, "caught").value == pytest.approx(caught)
        missed, offered = (truth == 1) & (said == 0), (truth == 0) & (said == 1)
        cost = evaluation.estimate("holdout@1", name, "cost")
        assert cost is not None
        assert cost.value == pytest.approx((5 * missed.sum() + offered.sum()) / len(rows))
        assert cost.rows == len(rows)
    assert evaluation.higher_is_better["cost"] is False
    assert evaluation.higher_is_better["caught"] is True
    _check_intervals(evaluation)
    assert not evaluation.findings


def test_a_custom_metric_that_cannot_be_imported_is_named(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite(
        "churn",
        suite(custom_metrics=[{"name": "lift", "function": "evaluation_helpers:lift_at_10"}]),
        client=client,
    )

    with pytest.raises(prodml.ProdmlError, match="Metric 'lift': cannot import"):
        prodml.evaluate_model("churn@1", client=client)


def test_an_evaluation_is_stored_with_the_model_and_its_dataset(client: Client) -> None:
    holdout = prodml.log_dataset("holdout", customers(), client=client)
    (version,) = log_models(client, "churn", [classifier()])
    prodml.register_suite("churn", suite(metrics=["auc", "accuracy"]), client=client)

    evaluation = prodml.evaluate_model("churn@1", client=client)

    (record,) = client.metadata.evaluations(version.id)
    assert (record.id, record.model_id, record.suite_version, record.verdict) == (
        evaluation.id,
        version.id,
        1,
        None,
    )
    assert (record.result["id"], record.result["model"], record.author) == (
        evaluation.id,
        "churn@1",
        "tester",
    )
    (again,) = stored(client, "churn@1")
    assert again.scores == evaluation.scores
    assert again.valsets == ("holdout@1",)
    events = [e for e in prodml.events(client=client) if e.action == "model.evaluated"]
    assert [(e.subject_id, e.details["evaluation"]) for e in events] == [
        (version.id, evaluation.id)
    ]
    edges = client.metadata.neighbours(("evaluation", evaluation.id), upstream=True)
    assert {node for node, _ in edges} == {("model", version.id), ("dataset", holdout.id)}


def test_lineage_from_an_evaluated_dataset_still_walks(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite("churn", suite(metrics=["accuracy"]), client=client)
    evaluation = prodml.evaluate_model("churn@1", client=client)

    from_dataset = prodml.downstream("holdout@1", client=client)
    from_model = prodml.downstream("model:churn@1", client=client)

    assert evaluation.id in {node.id for node in from_dataset.walk()}
    assert evaluation.id in {node.id for node in from_model.walk()}
