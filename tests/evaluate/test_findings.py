"""Bad input never passes silently: a set without labels is refused, and an empty
slice, a model that raises or a metric that is NaN become findings and checks that
are inconclusive or failing."""

from __future__ import annotations

import pandas as pd
import pytest
from evaluation_helpers import FEATURES, LABEL, Fussy, classifier, customers, log_models, suite

import prodml
from prodml.client import Client
from prodml.domain.evaluation import EvaluationFinding, Verdict
from prodml.errors import GateRefusedError, InvalidInputError

ACCURACY_HOLDS = {"rules": [{"metric": "accuracy", "at_least": 0.6}]}


def _kinds(findings: tuple[EvaluationFinding, ...]) -> list[str]:
    return [f.kind for f in findings]


def test_a_validation_set_without_the_label_is_refused_naming_set_and_label(
    client: Client,
) -> None:
    prodml.log_dataset("holdout", customers().drop(columns=LABEL), client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite("churn", suite(), client=client)

    with pytest.raises(InvalidInputError, match="Validation set holdout@1 has no label column"):
        prodml.evaluate_model("churn@1", client=client)
    with pytest.raises(InvalidInputError, match="'churned' \\(suite field 'label'\\)"):
        prodml.promote("churn", 1, client=client)
    assert prodml.model_history("churn", client=client).aliases == {}


def test_an_empty_slice_is_a_finding_and_its_check_inconclusive(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", [classifier()])
    slices = [
        {"name": "heavy", "where": "usage > 0.5"},
        {"name": "martians", "where": "usage > 99"},
    ]
    prodml.register_suite(
        "churn", suite(metrics=["accuracy"], slices=slices, gate=ACCURACY_HOLDS), client=client
    )

    comparison = prodml.compare_models("churn", None, "1", client=client)

    evaluation = comparison.candidate
    (finding,) = evaluation.findings
    assert (finding.kind, finding.slice, finding.valset) == ("empty_slice", "martians", "holdout@1")
    assert "matches no rows of holdout@1" in finding.message
    empty = evaluation.estimate("holdout@1", "martians", "accuracy")
    assert empty is not None and empty.rows == 0 and not empty.defined
    gate = comparison.gate
    assert gate is not None
    verdicts = {check.slice: check.verdict for check in gate.checks}
    assert verdicts == {
        "all": Verdict.PASS,
        "heavy": Verdict.PASS,
        "martians": Verdict.INCONCLUSIVE,
    }
    assert gate.verdict is Verdict.INCONCLUSIVE
    with pytest.raises(GateRefusedError, match="accuracy on 'martians' of holdout@1: only 0 rows"):
        prodml.promote("churn", 1, client=client)


def test_a_model_that_raises_on_some_rows_is_a_finding_and_fails_the_gate(
    client: Client,
) -> None:
    holdout = customers().assign(balance=100.0)
    holdout.loc[[3, 50, 51, 400, 1200, 2000, 2999], "balance"] = -1.0
    prodml.log_dataset("holdout", holdout, client=client)
    example = holdout[[*FEATURES, "balance"]].head()
    log_models(client, "churn", [Fussy(classifier())], example=example)
    prodml.register_suite("churn", suite(metrics=["accuracy"], gate=ACCURACY_HOLDS), client=client)

    evaluation = prodml.evaluate_model("churn@1", client=client)

    (finding,) = [f for f in evaluation.findings if f.kind == "model_error"]
    assert finding.message.startswith("Model churn@1 raised on 7 of 3,000 rows of holdout@1")
    assert "ValueError: balance must not be negative" in finding.message
    accuracy = evaluation.estimate("holdout@1", "all", "accuracy")
    assert accuracy is not None and accuracy.rows == 2993
    answered = holdout[holdout["balance"] >= 0]
    said = classifier().predict(answered[FEATURES])
    assert accuracy.value == pytest.approx(float((said == answered[LABEL]).mean()))

    with pytest.raises(GateRefusedError, match="verdict fail") as refused:
        prodml.promote("churn", 1, client=client)
    assert "raised on 7 of 3,000 rows" in str(refused.value)
    comparison = prodml.compare_models("churn", None, "1", client=client)
    assert comparison.gate is not None
    assert [c.rule for c in comparison.gate.failing()] == ["the model answers every row"]
    assert prodml.model_history("churn", client=client).aliases == {}

    good_rows = pd.DataFrame({"usage": [2.0], "tenure": [0.0], "balance": [10.0]})
    assert prodml.load_predictor("churn@1", client=client).predict(good_rows) == [1]
    with pytest.raises(InvalidInputError, match="Model churn@1 raised on the input"):
        prodml.load_predictor("churn@1", client=client).predict(good_rows.assign(balance=-5.0))


def test_a_nan_table_metric_is_a_finding_and_its_check_inconclusive(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", [classifier()])
    document = suite(
        metrics=["accuracy"],
        custom_metrics=[{"name": "mystery", "function": "evaluation_helpers:undefined"}],
        gate={
            "rules": [
                {"metric": "accuracy", "at_least": 0.6},
                {"metric": "mystery", "at_least": 0.5},
            ]
        },
    )
    prodml.register_suite("churn", document, client=client)

    comparison = prodml.compare_models("churn", None, "1", client=client)

    evaluation = comparison.candidate
    assert _kinds(evaluation.findings) == ["nan_metric"]
    (finding,) = evaluation.findings
    assert finding.metric == "mystery"
    assert "'mystery' (evaluation_helpers:undefined) returned nan on slice 'all'" in (
        finding.message
    )
    gate = comparison.gate
    assert gate is not None
    by_metric = {check.metric: check for check in gate.checks}
    assert by_metric["accuracy"].verdict is Verdict.PASS
    assert by_metric["mystery"].verdict is Verdict.INCONCLUSIVE
    assert "the value is undefined" in by_metric["mystery"].why
    assert gate.verdict is Verdict.INCONCLUSIVE


def test_a_per_row_metric_with_nan_rows_is_a_finding(client: Client) -> None:
    holdout = customers()
    prodml.log_dataset("holdout", holdout, client=client)
    log_models(client, "churn", [classifier()])
    document = suite(
        metrics=["accuracy"],
        product_metrics=[
            {"name": "east_cost", "function": "evaluation_helpers:cost_unknown_in_east"}
        ],
        slices=[{"name": "west", "where": "region <> 'east'"}],
        gate={"rules": [{"metric": "east_cost", "at_most": 2.0}]},
    )
    prodml.register_suite("churn", document, client=client)

    comparison = prodml.compare_models("churn", None, "1", client=client)

    east = int((holdout["region"] == "east").sum())
    (finding,) = comparison.candidate.findings
    assert finding.kind == "nan_metric" and finding.metric == "east_cost"
    assert f"returned NaN for {east:,} rows" in finding.message
    everything = comparison.candidate.estimate("holdout@1", "all", "east_cost")
    west = comparison.candidate.estimate("holdout@1", "west", "east_cost")
    assert everything is not None and not everything.defined
    assert west is not None and west.value == pytest.approx(1.0)
    assert comparison.gate is not None
    verdicts = {check.slice: check.verdict for check in comparison.gate.checks}
    assert verdicts == {"all": Verdict.INCONCLUSIVE, "west": Verdict.PASS}


def test_a_metric_function_that_raises_stops_the_evaluation_naming_it(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    (version,) = log_models(client, "churn", [classifier()])
    custom = [{"name": "lift", "function": "evaluation_helpers:broken"}]
    prodml.register_suite("churn", suite(custom_metrics=custom), client=client)

    with pytest.raises(InvalidInputError, match="Metric 'lift' \\(evaluation_helpers:broken\\)"):
        prodml.evaluate_model("churn@1", client=client)

    assert client.metadata.evaluations(version.id) == []
