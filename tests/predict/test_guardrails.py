"""Guardrails: rules kept beside a model version that override, withhold or bound its
answers, the same when serving and when evaluating."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.predict import guardrails as rails

RULES = {
    "rules": [
        {"name": "never-approve-large", "when": "amount > 10000", "set": 0},
        {"name": "unsure", "confidence_below": 0.8, "abstain": True},
    ]
}


@cache
def _loans(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "score": rng.normal(size=n).round(4),
            "income": rng.normal(size=n).round(4),
            "amount": rng.uniform(100, 20000, size=n).round(0),
        }
    )
    noise = rng.normal(scale=0.4, size=n)
    frame["approved"] = (frame["score"] + 0.5 * frame["income"] + noise > 0).astype("int64")
    return frame


@cache
def _approver() -> LogisticRegression:
    train = _loans(2000, 6)
    return LogisticRegression().fit(train[["score", "income"]], train["approved"])


def _log_approver(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        run.log_model(_approver(), "approve", example=_loans()[["score", "income"]].head())


def _log_pricer(client: Client) -> LinearRegression:
    rng = np.random.default_rng(8)
    rooms = rng.integers(1, 6, size=200).astype(float)
    model = LinearRegression().fit(pd.DataFrame({"rooms": rooms}), 100 * rooms - 150)
    with prodml.start_run("fit", client=client) as run:
        run.log_model(model, "price", example=pd.DataFrame({"rooms": [1.0, 2.0]}))
    return model


def test_when_set_and_confidence_abstain_apply_on_predict(client: Client) -> None:
    _log_approver(client)

    assert prodml.attach_guardrails("approve@1", RULES, client=client) == 1
    predictor = prodml.load_predictor("approve@1", client=client)
    answers = predictor.predict(
        [
            {"score": 3.0, "income": 1.0, "amount": 500.0},  # sure yes
            {"score": 3.0, "income": 1.0, "amount": 15000.0},  # sure yes, but too large
            {"score": -3.0, "income": -1.0, "amount": 500.0},  # sure no
            {"score": 0.0, "income": 0.0, "amount": 500.0},  # a coin toss
        ]
    )

    assert answers == [1, 0, 0, None]
    plain = prodml.load_model("approve@1", client=client)
    assert plain.predict(pd.DataFrame({"score": [3.0], "income": [1.0]})).tolist() == [1]


def test_latest_guardrails_apply_and_a_version_without_them_predicts_plainly(
    client: Client,
) -> None:
    _log_approver(client)
    row = [{"score": 0.0, "income": 0.0, "amount": 500.0}]
    assert prodml.load_predictor("approve@1", client=client).predict(row) != [None]

    prodml.attach_guardrails("approve@1", RULES, client=client)
    assert prodml.load_predictor("approve@1", client=client).predict(row) == [None]
    loosened = {"rules": [{"name": "unsure", "confidence_below": 0.5, "abstain": True}]}
    assert prodml.attach_guardrails("approve@1", loosened, client=client) == 2

    predictor = prodml.load_predictor("approve@1", client=client)
    assert predictor.guardrails is not None and predictor.guardrails.version == 2
    assert predictor.predict(row) in ([0], [1])


def test_clip_bounds_a_regression_answer(client: Client, tmp_path: Any) -> None:
    model = _log_pricer(client)
    rules = tmp_path / "guardrails.yaml"
    rules.write_text("rules:\n  - {name: sane-price, clip: [0, 300]}\n")

    prodml.attach_guardrails("price@1", str(rules), client=client)
    rows = pd.DataFrame({"rooms": [1.0, 3.0, 5.0]})
    answers = prodml.load_predictor("price@1", client=client).predict(rows)

    raw = model.predict(rows)
    assert raw.round(6).tolist() == [-50.0, 150.0, 350.0]
    assert answers == pytest.approx([0.0, 150.0, 300.0])


def test_confidence_rules_on_a_model_without_probabilities_are_refused_by_name(
    client: Client,
) -> None:
    _log_pricer(client)
    rules = {"rules": [{"name": "unsure", "confidence_below": 0.6, "abstain": True}]}
    prodml.attach_guardrails("price@1", rules, client=client)

    with pytest.raises(InvalidInputError, match="'unsure' uses confidence_below"):
        prodml.load_predictor("price@1", client=client).predict(pd.DataFrame({"rooms": [2.0]}))


def test_evaluation_reports_guardrail_changes_and_coverage(client: Client) -> None:
    _log_approver(client)
    holdout = _loans(3000, 9)
    prodml.log_dataset("loans-holdout", holdout, client=client)
    suite = {
        "task": "classification",
        "label": "approved",
        "validation_sets": ["loans-holdout"],
        "metrics": ["accuracy"],
        "bootstrap": {"resamples": 200},
        "auto_slices": {"count": 0},
    }
    prodml.register_suite("approve", suite, client=client)
    prodml.attach_guardrails("approve@1", RULES, client=client)

    evaluation = prodml.evaluate_model("approve@1", client=client)

    proba = _approver().predict_proba(holdout[["score", "income"]])[:, 1]
    said_yes = proba >= 0.5
    large = (holdout["amount"] > 10000).to_numpy()
    set_to_no = int((large & said_yes).sum())
    unsure = int((np.maximum(proba, 1 - proba) < 0.8).sum())
    assert 0 < set_to_no < 3000 and 0 < unsure < 3000
    changes = {f.message for f in evaluation.findings if f.kind == "guardrail"}
    assert changes == {
        f"Guardrail 'never-approve-large' changed {set_to_no:,} of 3,000 answers on "
        "loans-holdout@1.",
        f"Guardrail 'unsure' changed {unsure:,} of 3,000 answers on loans-holdout@1.",
    }
    assert evaluation.guardrails == 1
    coverage = evaluation.estimate("loans-holdout@1", "all", "coverage")
    assert coverage is not None
    assert coverage.value == pytest.approx(1 - unsure / 3000)
    assert coverage.low <= coverage.value <= coverage.high
    answered = ~(np.maximum(proba, 1 - proba) < 0.8)
    final = np.where(large, 0, said_yes.astype(int))
    truth = holdout["approved"].to_numpy()
    accuracy = evaluation.estimate("loans-holdout@1", "all", "accuracy")
    assert accuracy is not None
    assert accuracy.rows == int(answered.sum())
    assert accuracy.value == pytest.approx(float((final == truth)[answered].mean()))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([{"name": "cap", "set": 0}], "Guardrails is .*; give a mapping with the fields rules"),
        ({"rules": [{"set": 0}]}, "Guardrails: rules\\[0\\].name is required"),
        (
            {"rules": [{"name": "ok", "clip": [0, 1]}, {"name": "cap", "set": 0, "abstain": True}]},
            "rules\\[1\\] \\(cap\\) needs exactly one action: set, abstain or clip; it has",
        ),
        ({"rules": [{"name": "cap", "when": "amount > 1"}]}, "rules\\[0\\] \\(cap\\) needs"),
        (
            {"rules": [{"name": "bound", "clip": [0]}]},
            "rules\\[0\\].clip is \\[0\\]; give at least 2",
        ),
        (
            {"rules": [{"name": "unsure", "confidence_below": 1.5, "abstain": True}]},
            "rules\\[0\\].confidence_below is 1.5; give a number <= 1",
        ),
        (
            {"rules": [{"name": "cap", "set": 0, "colour": "red"}]},
            "rules\\[0\\].colour is not a known field; known: abstain, clip",
        ),
        (
            {"rules": [{"name": "cap", "set": 0}, {"name": "cap", "abstain": True}]},
            "names must be unique: 'cap' is repeated",
        ),
        ({"rules": [{"name": "cap", "when": "", "set": 0}]}, "rules\\[0\\].when is ''; give non"),
        ({"rules": [{"name": "cap", "when": 5, "set": 0}]}, "when is 5; give text or a mapping"),
    ],
)
def test_bad_guardrail_documents_are_refused_naming_the_rule(document: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        rails.parse(document)


def test_refused_guardrails_are_not_stored(client: Client) -> None:
    _log_approver(client)

    with pytest.raises(InvalidInputError, match="rules\\[0\\] \\(cap\\) needs exactly one"):
        prodml.attach_guardrails("approve@1", {"rules": [{"name": "cap"}]}, client=client)
    with pytest.raises(InvalidInputError, match="Guardrails are not valid YAML"):
        prodml.attach_guardrails("approve@1", "rules: [name: {", client=client)

    assert prodml.load_predictor("approve@1", client=client).guardrails is None


def test_a_clip_rule_keeps_integer_answers_integers() -> None:
    import pyarrow as pa

    rules = rails.parse({"rules": [{"name": "bounded", "clip": [0, 5]}]})
    answers = rails.Answers(np.array([1, 9, -3]), None, np.ones(3, dtype=bool))
    rails.apply(rules, pa.table({"x": [1, 2, 3]}), answers)
    assert answers.predicted.tolist() == [1, 5, 0]
    assert answers.predicted.dtype.kind == "i"
    untouched = rails.Answers(np.array([1, 2]), None, np.ones(2, dtype=bool))
    rails.apply(rules, pa.table({"x": [1, 2]}), untouched)
    assert untouched.predicted.dtype.kind == "i"
