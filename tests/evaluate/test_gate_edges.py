"""Edges of the gate where a wrong answer would let a bad model through or block a
good one: undefined values, narrow slices, versioned scenario names, a champion that
moves during a promotion, labels the model does not know, short aliases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import FEATURES, LABEL, classifier, customers, log_models, suite

import prodml
from prodml.client import Client
from prodml.domain.evaluation import Verdict
from prodml.errors import InvalidInputError, NotFoundError, RunStateError


class NeverInEast:
    """The classifier, except that it never predicts churn for rows with usage > 1."""

    def __init__(self) -> None:
        self.inner = classifier()
        self.classes_ = self.inner.classes_

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        proba = self.inner.predict_proba(rows)
        proba[np.asarray(rows["usage"] > 1.0)] = [1.0, 0.0]
        return proba

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.predict_proba(rows)[:, 1] >= 0.5, dtype=np.int64)


def test_a_metric_undefined_for_the_candidate_on_a_slice_is_inconclusive(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", [classifier(), NeverInEast()])
    rules = {"rules": [{"metric": "precision", "max_regression": 0.01}]}
    slices = [{"name": "heavy users", "where": "usage > 1"}]
    prodml.register_suite(
        "churn", suite(metrics=["precision"], slices=slices, gate=rules), client=client
    )

    comparison = prodml.compare_models("churn", "1", "2", client=client)

    assert comparison.gate is not None
    assert comparison.gate.verdict is not Verdict.PASS
    (check,) = comparison.gate.inconclusive()
    assert check.slice == "heavy users" and "undefined" in check.why


def test_a_narrow_slice_gets_an_auc_interval_as_wide_as_its_rows_allow(client: Client) -> None:
    frame = customers(20_000, 4)
    prodml.log_dataset("holdout", frame, client=client)
    log_models(client, "churn", [classifier()])
    band = {"name": "band", "where": "usage > 0.10 AND usage < 0.16"}
    prodml.register_suite("churn", suite(slices=[band]), client=client)

    evaluation = prodml.evaluate_model("churn@1", client=client)

    auc = evaluation.estimate("holdout@1", "band", "auc")
    assert auc is not None and 200 < auc.rows < 1000
    assert auc.high - auc.low > 0.05  # a few hundred rows: an interval, not a point
    assert auc.low < auc.value < auc.high


def test_scenario_sets_named_with_their_version_are_judged(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    clear = customers(500, 9)
    clear = clear[(clear["usage"] + 0.5 * clear["tenure"]).abs() > 2]
    prodml.log_dataset("must", clear, client=client)
    log_models(client, "churn", [classifier()])
    gate = {"rules": [{"must_pass": True}, {"metric": "accuracy", "at_least": 0.6}]}
    prodml.register_suite("churn", suite(scenarios=["must@1"], gate=gate), client=client)

    promotion = prodml.promote("churn", 1, client=client)

    assert promotion.comparison is not None and promotion.comparison.gate is not None
    passed = [c for c in promotion.comparison.gate.checks if c.metric == "passed"]
    assert [c.verdict for c in passed] == [Verdict.PASS]


def test_a_promotion_refuses_to_move_an_alias_that_moved_meanwhile(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    versions = log_models(client, "churn", [classifier(), classifier(7), classifier(8)])
    store = client.metadata

    store.move_alias("churn", "champion", 1, versions[0].id)
    with pytest.raises(RunStateError, match="moved to v1 while v2 was judged against unset"):
        store.move_alias("churn", "champion", 2, versions[1].id, expected=None)

    assert store.alias_version("churn", "champion") == 1


def test_labels_the_model_never_predicts_score_as_wrong_as_can_be(client: Client) -> None:
    frame = customers().copy()
    frame[LABEL] = frame[LABEL].astype(str)
    frame.loc[frame.index[:30], LABEL] = "maybe"
    prodml.log_dataset("holdout", frame, client=client)
    text_model = classifier().__class__().fit(customers()[FEATURES], customers()[LABEL].astype(str))
    log_models(client, "churn", [text_model])
    prodml.register_suite("churn", suite(metrics=["log_loss", "brier"]), client=client)

    evaluation = prodml.evaluate_model("churn@1", client=client)

    known = evaluation.findings[0]
    assert known.kind == "unknown_labels" and "30 rows" in known.message
    log_loss = evaluation.estimate("holdout@1", "all", "log_loss")
    assert log_loss is not None and log_loss.value > 30 * 34 / len(frame)  # -log(1e-15) each


def test_a_short_hex_alias_never_falls_back_to_a_version_id(client: Client) -> None:
    versions = log_models(client, "churn", [classifier(), classifier(7)])
    prodml.set_alias("churn@1", "bee", client=client)

    assert prodml.get_model("churn@bee", client=client).version == 1
    client.metadata.move_alias("churn", "bee", None, versions[0].id, "retired")
    with pytest.raises(NotFoundError, match="no alias 'bee'"):
        prodml.get_model("churn@bee", client=client)


def test_a_slice_that_is_not_a_condition_is_refused(client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", [classifier()])
    prodml.register_suite(
        "churn", suite(slices=[{"name": "oops", "where": "usage * 2"}]), client=client
    )

    with pytest.raises(InvalidInputError, match=r"'oops' .* is DOUBLE, not a condition"):
        prodml.evaluate_model("churn@1", client=client)


class Cautious:
    """Calls churn from a 20% probability: its own predict, not predict_proba at 0.5."""

    def __init__(self) -> None:
        self.inner = classifier()
        self.classes_ = self.inner.classes_

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.inner.predict_proba(rows))

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.predict_proba(rows)[:, 1] >= 0.2, dtype=np.int64)


def test_guardrails_that_match_nothing_leave_the_models_answers_alone(client: Client) -> None:
    log_models(client, "churn", [Cautious()])
    rows = customers().head(200)[FEATURES]
    before = prodml.load_predictor("churn@1", client=client).predict(rows)

    prodml.attach_guardrails(
        "churn@1", {"rules": [{"name": "never", "when": "usage > 100", "set": 0}]}, client=client
    )
    after = prodml.load_predictor("churn@1", client=client).predict(rows)

    assert after == before == Cautious().predict(rows).tolist()
    assert sum(before) > sum(classifier().predict(rows))  # the 20% threshold is in force
