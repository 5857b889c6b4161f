"""Comparison and the promotion gate: a worse candidate is refused with the failing
slices named, an equal one passes, too little data is inconclusive (never a pass),
and a forced promotion records who and why."""

from __future__ import annotations

import pandas as pd
import pytest
from evaluation_helpers import (
    FEATURES,
    LABEL,
    classifier,
    classifier_without_usage,
    customers,
    log_models,
    suite,
)

import prodml
from prodml.client import Client
from prodml.domain.evaluation import Verdict
from prodml.errors import GateRefusedError, InvalidInputError

AUC_AND_ACCURACY = {
    "rules": [
        {"metric": "auc", "max_regression": 0.01},
        {"metric": "accuracy", "at_least": 0.6},
    ]
}
SLICES = [{"name": "north", "where": "region = 'north'"}]


def _store(client: Client, *models: object) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", list(models))


def test_first_promotion_with_only_a_regression_rule_is_inconclusive(client: Client) -> None:
    _store(client, classifier())
    only_regression = {"rules": [{"metric": "auc", "max_regression": 0.01}]}
    prodml.register_suite("churn", suite(gate=only_regression), client=client)

    with pytest.raises(GateRefusedError, match="verdict inconclusive") as refused:
        prodml.promote("churn", 1, client=client)

    assert "no champion to compare with" in str(refused.value)
    assert prodml.model_history("churn", client=client).aliases == {}

    prodml.register_suite("churn", suite(gate=AUC_AND_ACCURACY), client=client)
    promotion = prodml.promote("churn", 1, why="first model", client=client)

    assert promotion.comparison is not None and promotion.comparison.gate is not None
    gate = promotion.comparison.gate
    assert gate.verdict is Verdict.PASS and gate.baseline is None
    assert gate.notes == (
        "no champion to compare with: 'auc regresses no more than 0.01' is not judged",
    )
    move = promotion.move
    assert (move.alias, move.version, move.forced, move.verdict) == ("champion", 1, False, "pass")
    assert move.evaluation_id == promotion.comparison.candidate.id
    assert prodml.get_model("churn@champion", client=client).version == 1
    with pytest.raises(InvalidInputError, match="churn@1 is already champion"):
        prodml.promote("churn", 1, client=client)


def test_a_clearly_worse_candidate_is_refused_naming_the_failing_slices(client: Client) -> None:
    _store(client, classifier(), classifier_without_usage())
    prodml.register_suite("churn", suite(slices=SLICES, gate=AUC_AND_ACCURACY), client=client)
    prodml.promote("churn", 1, client=client)

    comparison = prodml.compare_models("churn", "champion", "2", client=client)

    regressions = comparison.regressions()
    assert {(d.slice, d.metric) for d in regressions} >= {("all", "auc"), ("north", "auc")}
    auc = next(d for d in regressions if (d.slice, d.metric) == ("all", "auc"))
    assert auc.diff.high < -0.1 and auc.worse_by > 0.1
    assert auc.diff.value == pytest.approx(auc.candidate.value - auc.baseline.value)
    assert comparison.baseline is not None and comparison.baseline.model == "churn@1"
    gate = comparison.gate
    assert gate is not None and gate.verdict is Verdict.FAIL and gate.baseline == "churn@1"
    assert {(c.slice, c.metric) for c in gate.failing()} >= {("all", "auc"), ("north", "auc")}

    with pytest.raises(GateRefusedError) as refused:
        prodml.promote("churn", 2, client=client)

    message = str(refused.value)
    assert message.startswith("The gate refused churn@2 as champion against churn@1: verdict fail")
    assert "fail: regressed: auc on 'all' of holdout@1" in message
    assert "fail: regressed: auc on 'north' of holdout@1" in message
    assert "--force --why TEXT" in message
    assert prodml.get_model("churn@champion", client=client).version == 1


def test_force_moves_the_alias_and_records_the_reason(client: Client) -> None:
    _store(client, classifier(), classifier_without_usage())
    prodml.register_suite("churn", suite(gate=AUC_AND_ACCURACY), client=client)
    prodml.promote("churn", 1, client=client)

    with pytest.raises(InvalidInputError, match="--force needs --why TEXT"):
        prodml.promote("churn", 2, force=True, client=client)
    with pytest.raises(InvalidInputError, match="--force needs --why TEXT"):
        prodml.promote("churn", 2, force=True, why="  ", client=client)
    assert prodml.get_model("churn@champion", client=client).version == 1

    promotion = prodml.promote(
        "churn", 2, force=True, why="legal asked to drop usage", client=client
    )

    move = promotion.move
    assert (move.version, move.previous, move.forced, move.verdict) == (2, 1, True, "fail")
    assert move.reason == "legal asked to drop usage"
    assert prodml.get_model("churn@champion", client=client).version == 2
    forced = [e for e in prodml.events(client=client) if e.action == "model.alias_forced"]
    assert [(e.actor, e.reason, e.details["from"], e.details["to"]) for e in forced] == [
        ("tester", "legal asked to drop usage", 1, 2)
    ]
    assert forced[0].details["verdict"] == "fail"
    history = prodml.model_history("churn", client=client)
    assert [(m.version, m.forced) for m in history.moves] == [(1, False), (2, True)]


def test_an_equal_quality_candidate_passes_a_tolerance(client: Client) -> None:
    _store(client, classifier(seed=100), classifier(seed=200))
    tolerant = {"rules": [{"metric": "auc", "max_regression": 0.02}]}
    prodml.register_suite(
        "churn",
        suite(slices=[*SLICES, {"by": "region"}], gate={"rules": [*AUC_AND_ACCURACY["rules"]]}),
        client=client,
    )
    prodml.promote("churn", 1, client=client)
    prodml.register_suite(
        "churn", suite(slices=[*SLICES, {"by": "region"}], gate=tolerant), client=client
    )

    comparison = prodml.compare_models("churn", "champion", "2", client=client)

    gate = comparison.gate
    assert gate is not None and gate.verdict is Verdict.PASS
    assert {c.slice for c in gate.checks} == {
        "all",
        "north",
        "region=north",
        "region=south",
        "region=east",
    }
    for difference in comparison.differences:
        assert abs(difference.diff.value) < 0.02
        assert difference.diff.low <= difference.diff.value <= difference.diff.high
    promotion = prodml.promote("churn", 2, client=client)
    assert (promotion.move.version, promotion.move.forced) == (2, False)


def test_a_slice_below_min_rows_is_inconclusive(client: Client) -> None:
    _store(client, classifier())
    tiny = [{"name": "extreme", "where": "usage > 2.3"}]
    prodml.register_suite(
        "churn", suite(slices=tiny, gate={**AUC_AND_ACCURACY, "min_rows": 150}), client=client
    )

    comparison = prodml.compare_models("churn", None, "1", client=client)

    rows = int((customers()["usage"] > 2.3).sum())
    assert 0 < rows < 150
    gate = comparison.gate
    assert gate is not None
    (small,) = [c for c in gate.checks if c.slice == "extreme"]
    assert small.verdict is Verdict.INCONCLUSIVE
    assert (
        small.why == f"accuracy on 'extreme' of holdout@1: only {rows:,} rows (the gate needs 150)"
    )
    assert gate.verdict is Verdict.INCONCLUSIVE
    with pytest.raises(GateRefusedError, match="verdict inconclusive"):
        prodml.promote("churn", 1, client=client)


def test_a_bound_that_does_not_hold_fails(client: Client) -> None:
    _store(client, classifier())
    strict = {"rules": [{"metric": "accuracy", "at_least": 0.95}]}
    prodml.register_suite("churn", suite(gate=strict), client=client)

    comparison = prodml.compare_models("churn", None, "1", client=client)

    assert comparison.gate is not None and comparison.gate.verdict is Verdict.FAIL
    (check,) = comparison.gate.checks
    assert check.why.startswith("past the bound: accuracy on 'all' of holdout@1 is 0.8")
    assert check.why.endswith("bound 0.95")


def test_a_must_pass_set_fails_on_one_wrong_row(client: Client) -> None:
    _store(client, classifier())
    sure = customers().head(400)
    proba = classifier().predict_proba(sure[FEATURES])[:, 1]
    said = classifier().predict(sure[FEATURES])
    right = sure[(said == sure[LABEL]) & ((proba > 0.9) | (proba < 0.1))].head(20)
    assert len(right) == 20
    prodml.add_to_valset("must-pass", right, source="support tickets", client=client)
    rules = {"rules": [{"must_pass": True}, {"metric": "accuracy", "at_least": 0.6}]}
    prodml.register_suite("churn", suite(scenarios=["must-pass"], gate=rules), client=client)

    passing = prodml.compare_models("churn", None, "1", client=client)

    assert passing.gate is not None and passing.gate.verdict is Verdict.PASS
    (must,) = [c for c in passing.gate.checks if c.rule == "must-pass sets at 100%"]
    assert must.why == "must-pass@1: 20 of 20 rows passed"

    wrong = pd.DataFrame(
        {"usage": [3.0], "tenure": [1.0], "region": ["north"], LABEL: [0]}
    )  # a sure churner by the model's lights, who stayed
    prodml.add_to_valset("must-pass", wrong, source="ticket 1234", client=client)
    failing = prodml.compare_models("churn", None, "1", client=client)

    assert failing.gate is not None and failing.gate.verdict is Verdict.FAIL
    (check,) = failing.gate.failing()
    assert (check.valset, check.why) == ("must-pass@2", "must-pass@2: 20 of 21 rows passed")
    assert failing.candidate.valsets == ("holdout@1", "must-pass@2")
    assert failing.candidate.estimate("must-pass@2", "all", "accuracy") is None
    with pytest.raises(GateRefusedError, match="20 of 21 rows passed"):
        prodml.promote("churn", 1, client=client)


def test_a_slice_tolerance_and_rule_slices_narrow_what_the_gate_judges(client: Client) -> None:
    _store(client, classifier(), classifier_without_usage())
    prodml.register_suite("churn", suite(gate=AUC_AND_ACCURACY), client=client)
    prodml.promote("churn", 1, client=client)
    lenient_north = [{"name": "north", "where": "region = 'north'", "tolerance": 0.5}]
    only_north = {"rules": [{"metric": "auc", "max_regression": 0.01, "slices": ["north"]}]}
    prodml.register_suite("churn", suite(slices=lenient_north, gate=only_north), client=client)

    comparison = prodml.compare_models("churn", "champion", "2", client=client)

    gate = comparison.gate
    assert gate is not None
    (check,) = gate.checks
    assert (check.slice, check.verdict) == ("north", Verdict.PASS)
    assert "tolerance 0.5" in check.why
    assert any(d.slice == "all" and d.certain_regression for d in comparison.differences)
    assert prodml.promote("churn", 2, client=client).move.version == 2


def test_the_decision_threshold_of_the_suite_is_used(client: Client) -> None:
    _store(client, classifier())
    prodml.register_suite(
        "churn", suite(metrics=["accuracy", "recall"], threshold=0.3), client=client
    )

    evaluation = prodml.evaluate_model("churn@1", client=client)

    rows = customers()
    said = classifier().predict_proba(rows[FEATURES])[:, 1] >= 0.3
    truth = rows[LABEL].to_numpy() == 1
    accuracy = evaluation.estimate("holdout@1", "all", "accuracy")
    recall = evaluation.estimate("holdout@1", "all", "recall")
    assert accuracy is not None and recall is not None
    assert accuracy.value == pytest.approx(float((said == truth).mean()))
    assert recall.value == pytest.approx(float(said[truth].mean()))


def test_the_champion_can_be_promoted_to_another_protected_alias(client: Client) -> None:
    _store(client, classifier())
    prodml.register_suite("churn", suite(gate=AUC_AND_ACCURACY), client=client)
    prodml.promote("churn", 1, client=client)
    prodml.protect_alias("churn", "stable", client=client)

    promotion = prodml.promote("churn", 1, to="stable", why="release train 12", client=client)

    assert (promotion.move.alias, promotion.move.version, promotion.move.forced) == (
        "stable",
        1,
        False,
    )
    assert prodml.model_history("churn", client=client).aliases == {"champion": 1, "stable": 1}
