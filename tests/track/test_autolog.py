"""``prodml.autolog()``: fits recorded with no logging code, in the active run or in a
run of their own; the outermost fit only; a broken store never breaks a fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.domain.run import RunStatus


@pytest.fixture
def recording(client: Client) -> Iterator[Client]:
    prodml.autolog(experiment="fits", client=client)
    yield client
    prodml.autolog(disable=True)


def _rows(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(7)
    rows = pd.DataFrame({"distance": generator.uniform(100, 3000, n),
                         "hour": generator.integers(5, 23, n).astype(float)})  # fmt: skip
    late = ((rows["distance"] > 1500) ^ (generator.random(n) < 0.1)).astype(int).to_numpy()
    return rows, late


def test_a_fit_outside_a_run_is_recorded_in_a_run_of_its_own(recording: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    rows, late = _rows()
    LogisticRegression(C=0.5, max_iter=200).fit(rows, late)

    (run,) = prodml.list_runs("fits", client=recording)
    assert run.status is RunStatus.FINISHED
    assert run.params["C"] == "0.5" and run.params["max_iter"] == "200"
    assert 0.5 < run.metrics["training_score"] <= 1.0
    version = prodml.describe_model("logistic-regression@1", client=recording).version
    assert version.run_id == run.id
    assert [c["name"] for c in version.signature["columns"]] == ["distance", "hour"]
    loaded = prodml.load_model("logistic-regression@1", client=recording)
    assert list(loaded.predict(rows.head(3))) == list(
        LogisticRegression(C=0.5, max_iter=200).fit(rows, late).predict(rows.head(3))
    )


def test_inside_a_run_fits_go_into_it_and_a_pipeline_is_one_fit(recording: Client) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    rows, late = _rows()
    with prodml.start_run("mine", client=recording) as run:
        make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3)).fit(rows, late)
        DecisionTreeClassifier(max_depth=4).fit(rows, late)
        DecisionTreeClassifier(max_depth=5).fit(rows, late)  # its params conflict: named

    assert prodml.list_runs("fits", client=recording) == []  # no run of their own
    stored = prodml.get_run(run.id, client=recording)
    assert "steps" in stored.params  # the pipeline's own params, not its steps' fits
    assert stored.params["max_depth"] == "4"
    assert stored.params["decision-tree-classifier.max_depth"] == "5"
    history = prodml.metric_history(run.id, "training_score", client=recording)
    assert len(history) == 3  # the pipeline, then the trees; the steps' fits not apart
    names = {m.name for m in prodml.list_models(client=recording)}
    assert names == {"pipeline", "decision-tree-classifier"}


def test_boosters_record_each_evaluation_set_per_round(recording: Client) -> None:
    import lightgbm
    import xgboost

    rows, late = _rows(300)
    train, valid = slice(0, 200), slice(200, 300)
    with prodml.start_run("boosted", client=recording) as run:
        xgboost.XGBClassifier(n_estimators=8, max_depth=2, eval_metric="logloss").fit(
            rows[train], late[train], eval_set=[(rows[valid], late[valid])], verbose=False
        )
        lightgbm.train(
            {"objective": "binary", "verbose": -1, "num_leaves": 4},
            lightgbm.Dataset(rows[train], late[train]),
            num_boost_round=6,
            valid_sets=[lightgbm.Dataset(rows[valid], late[valid])],
            valid_names=["holdout"],
        )

    xgb_history = prodml.metric_history(run.id, "validation_0-logloss", client=recording)
    assert [p.step for p in xgb_history] == list(range(8))
    assert xgb_history[-1].value < xgb_history[0].value
    lgb_history = prodml.metric_history(run.id, "holdout-binary_logloss", client=recording)
    assert [p.step for p in lgb_history] == list(range(6))
    stored = prodml.get_run(run.id, client=recording)
    assert stored.params["max_depth"] == "2"
    assert stored.params["lightgbm-booster.num_leaves"] == "4"  # objective differed: named
    names = {m.name for m in prodml.list_models(client=recording)}
    assert {"xgb-classifier", "lightgbm-booster"} <= names


def test_a_failing_fit_fails_its_own_run_and_raises(recording: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError):
        LogisticRegression().fit(pd.DataFrame({"a": [1.0, 2.0]}), np.array([1, 1]))

    (run,) = prodml.list_runs("fits", client=recording)
    assert run.status is RunStatus.FAILED and "class" in (run.error or "")


def test_a_store_that_cannot_record_warns_and_the_fit_goes_on(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    down = Client(home=str(tmp_path), metadata_url="postgresql://nobody@127.0.0.1:1/none")
    prodml.autolog(experiment="fits", client=down)
    try:
        rows, late = _rows()
        with pytest.warns(UserWarning, match="prodml autolog: could not start a run"):
            fitted = LinearRegression().fit(rows, late)
    finally:
        prodml.autolog(disable=True)

    assert fitted.coef_.shape == (2,)


def test_disable_puts_every_fit_back(client: Client) -> None:
    from sklearn.linear_model import LinearRegression

    original = LinearRegression.fit
    patched = prodml.autolog(experiment="fits", client=client)
    assert "scikit-learn" in patched and LinearRegression.fit is not original
    prodml.autolog(disable=True)

    assert LinearRegression.fit is original
    rows, late = _rows()
    LinearRegression().fit(rows, late)
    assert prodml.list_runs("fits", client=client) == []
