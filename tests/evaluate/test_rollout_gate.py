"""A rollout starts only after the offline gate: with a suite, the candidate must
have passed it against the current champion, or be forced with a reason."""

from __future__ import annotations

import pytest
from evaluation_helpers import classifier, classifier_without_usage, customers, log_models, suite

import prodml
from prodml.client import Client
from prodml.errors import GateRefusedError, InvalidInputError

GATE = {"rules": [{"metric": "auc", "max_regression": 0.01}]}


def _store(client: Client, *models: object) -> None:
    prodml.log_dataset("holdout", customers(), client=client)
    log_models(client, "churn", list(models))
    prodml.register_suite("churn", suite(gate=GATE), client=client)
    prodml.promote("churn", 1, force=True, why="first model", client=client)


def test_a_candidate_never_compared_is_refused_with_the_command_to_run(client: Client) -> None:
    _store(client, classifier(), classifier(seed=7))
    with pytest.raises(GateRefusedError, match="never compared") as refused:
        prodml.start_rollout("churn", 2, client=client)
    assert "prodml evaluate compare churn champion 2" in str(refused.value)
    assert prodml.rollout_status("churn", client=client) == []


def test_a_candidate_that_passed_against_the_champion_starts(client: Client) -> None:
    _store(client, classifier(), classifier(seed=7))
    assert prodml.compare_models("churn", "champion", "2", client=client).gate.verdict.value == (
        "pass"
    )
    rollout = prodml.start_rollout("churn", 2, client=client)
    assert (rollout.candidate, rollout.baseline, rollout.state) == (2, 1, "running")
    started = [e for e in prodml.events(client=client) if e.action == "rollout.started"]
    assert started[-1].details["offline_gate"] == "pass"


def test_a_failed_candidate_starts_only_when_forced_with_a_reason(client: Client) -> None:
    _store(client, classifier(), classifier_without_usage())
    prodml.compare_models("churn", "champion", "2", client=client)
    with pytest.raises(GateRefusedError, match="latest comparison was fail"):
        prodml.start_rollout("churn", 2, client=client)
    with pytest.raises(InvalidInputError, match="--why"):
        prodml.start_rollout("churn", 2, force=True, client=client)
    rollout = prodml.start_rollout(
        "churn", 2, why="judge it on live traffic", force=True, client=client
    )
    assert rollout.state == "running"
    started = [e for e in prodml.events(client=client) if e.action == "rollout.started"]
    assert (started[-1].details["offline_gate"], started[-1].details["forced"]) == ("fail", True)
