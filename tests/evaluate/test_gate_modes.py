"""A regression the data cannot rule out is not a pass: a regression rule whose observed
change is past its tolerance but not certainly is inconclusive and says about how many
more rows would decide it; a suite in ``non_inferiority`` mode passes only a change
whose interval rules out a regression past the tolerance."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from evaluation_helpers import FEATURES, LABEL, classifier, customers, log_models, suite
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.domain.evaluation import Check, Verdict
from prodml.errors import GateRefusedError


def _tenure_underweighted() -> LogisticRegression:
    """Fitted on tenure four times as large: it weighs tenure a quarter as much as it
    should, and loses a few points of AUC."""
    train = customers(2000, 100)
    return LogisticRegression().fit(
        train[FEATURES].assign(tenure=4 * train["tenure"]), train[LABEL]
    )


def _gate(client: Client, tolerance: float, **gate: object) -> tuple[Verdict, Check]:
    rules = [{"metric": "auc", "max_regression": tolerance}]
    prodml.register_suite("churn", suite(gate={"rules": rules, **gate}), client=client)
    comparison = prodml.compare_models("churn", "champion", "2", client=client)
    assert comparison.gate is not None
    (check,) = comparison.gate.checks
    return comparison.gate.verdict, check


def _more_rows(check: Check) -> int:
    found = re.search(r"about ([\d,]+) more rows in this slice would decide it", check.why)
    assert found is not None, check.why
    return int(found.group(1).replace(",", ""))


def _store(client: Client, holdout: pd.DataFrame, candidate: LogisticRegression) -> None:
    prodml.log_dataset("holdout", holdout, client=client)
    log_models(client, "churn", [classifier(), candidate])
    prodml.register_suite("churn", suite(), client=client)
    prodml.promote("churn", 1, force=True, why="the first model", client=client)


def test_a_small_slice_losing_several_points_of_auc_is_inconclusive_not_passed(
    client: Client,
) -> None:
    _store(client, customers(300, 7), _tenure_underweighted())

    verdict, check = _gate(client, 0.03)

    assert verdict is Verdict.INCONCLUSIVE and check.verdict is Verdict.INCONCLUSIVE
    assert check.why.startswith("possible regression past the tolerance, not certain: auc on")
    assert "(change -0.047" in check.why and "tolerance 0.03)" in check.why
    assert 100 <= _more_rows(check) <= 1000 and check.why.endswith("if the change held")
    with pytest.raises(GateRefusedError, match="verdict inconclusive"):
        prodml.promote("churn", 2, client=client)


def test_non_inferiority_passes_only_when_the_interval_rules_out_the_regression(
    client: Client,
) -> None:
    _store(client, customers(300, 7), _tenure_underweighted())

    observed, _ = _gate(client, 0.05)
    verdict, check = _gate(client, 0.05, mode="non_inferiority")

    assert observed is Verdict.PASS  # 0.047 worse: within the tolerance as observed
    assert verdict is Verdict.INCONCLUSIVE
    assert check.why.startswith("a regression past the tolerance is not ruled out: auc on")
    assert _more_rows(check) > 300

    prodml.add_to_valset("holdout", customers(2700, 8), source="more rows", client=client)
    verdict, check = _gate(client, 0.05, mode="non_inferiority")

    assert verdict is Verdict.PASS
    assert check.why.startswith("a regression past the tolerance is ruled out: auc on")
    assert prodml.promote("churn", 2, client=client).move.version == 2
