"""Hindsight metrics: one metric for every stored version of a model, scored by the
evaluation engine on a stored validation set, stored with lineage, read back instead
of computed again, and a version that cannot be scored reported alone."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import (
    FEATURES,
    LABEL,
    Fussy,
    classifier,
    classifier_without_usage,
    customers,
    house_prices,
    log_models,
    price_model,
    suite,
)
from sklearn import metrics as sk
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.domain.backfill import Backfill, BackfillStatus
from prodml.errors import InvalidInputError, NotFoundError

STATUS = BackfillStatus
HOLDOUT = customers(3000, 7)


def _three_versions(client: Client) -> None:
    """holdout@1 and churn@1..3: a model without its key feature, then two good ones."""
    prodml.log_dataset("holdout", HOLDOUT, client=client)
    log_models(client, "churn", [classifier_without_usage(), classifier(100), classifier(200)])


def _values(result: Backfill, slice_name: str = "all") -> list[float]:
    found = [version.value(slice_name) for version in result.versions]
    assert all(estimate is not None for estimate in found), result
    return [estimate.value for estimate in found if estimate is not None]


def _statuses(result: Backfill) -> list[BackfillStatus]:
    return [version.status for version in result.versions]


def _backfilled_evaluations(client: Client, name: str) -> int:
    versions = client.metadata.model_versions(name)
    return sum(
        1
        for version in versions
        for record in client.metadata.evaluations(version.id)
        if "backfill" in record.result
    )


def test_a_metric_is_computed_for_every_version_oldest_first_with_intervals(
    client: Client,
) -> None:
    _three_versions(client)

    result = prodml.backfill_metric("auc", "churn", "holdout@1", label=LABEL, client=client)

    assert [v.model for v in result.versions] == ["churn@1", "churn@2", "churn@3"]
    assert _statuses(result) == [STATUS.COMPUTED] * 3
    created = [v.created_at for v in result.versions]
    assert created == sorted(created)
    truth = HOLDOUT[LABEL]
    expected = [
        sk.roc_auc_score(truth, model.predict_proba(HOLDOUT[FEATURES])[:, 1])
        for model in (classifier_without_usage(), classifier(100), classifier(200))
    ]
    assert _values(result) == pytest.approx(expected, abs=1e-9)
    assert _values(result)[0] < _values(result)[1] - 0.1  # the model without usage is worse
    for version in result.versions:
        found = version.value()
        assert found is not None and found.low < found.value < found.high
        assert found.rows == len(HOLDOUT)
    assert (result.valset, result.metric, result.higher_is_better) == ("holdout@1", "auc", True)


def test_the_value_and_interval_are_the_suite_evaluations_own(client: Client) -> None:
    _three_versions(client)
    prodml.register_suite("churn", suite(metrics=["accuracy"]), client=client)
    evaluation = prodml.evaluate_model("churn@2", client=client)

    result = prodml.backfill_metric("accuracy", "churn", client=client)  # the suite's set, label

    assert result.valset == "holdout@1" and result.resamples == 200
    assert result.versions[1].value() == evaluation.estimate("holdout@1", "all", "accuracy")


def test_each_result_is_an_evaluation_linked_to_the_model_and_the_dataset_version(
    client: Client,
) -> None:
    _three_versions(client)
    holdout = prodml.get_dataset("holdout@1", client=client)

    result = prodml.backfill_metric("auc", "churn", "holdout@1", label=LABEL, client=client)

    for version in result.versions:
        assert version.evaluation_id is not None
        edges = client.metadata.neighbours(("evaluation", version.evaluation_id), upstream=True)
        assert {node for node, _ in edges} == {("model", version.model_id), ("dataset", holdout.id)}
        (record,) = client.metadata.evaluations(version.model_id)
        assert record.result["model"] == version.model
        assert record.result["backfill"]["valset_id"] == holdout.id
    downstream = {node.id for node in prodml.downstream("holdout@1", client=client).walk()}
    assert {v.evaluation_id for v in result.versions} <= downstream


def test_versions_already_backfilled_are_read_back_unless_forced(client: Client) -> None:
    _three_versions(client)
    first = prodml.backfill_metric("auc", "churn", "holdout@1", label=LABEL, client=client)

    again = prodml.backfill_metric("auc", "churn", "holdout@1", label=LABEL, client=client)

    assert _statuses(again) == [STATUS.STORED] * 3
    assert [v.evaluation_id for v in again.versions] == [v.evaluation_id for v in first.versions]
    assert [v.values for v in again.versions] == [v.values for v in first.versions]
    assert _backfilled_evaluations(client, "churn") == 3

    forced = prodml.backfill_metric(
        "auc", "churn", "holdout@1", label=LABEL, force=True, client=client
    )

    assert _statuses(forced) == [STATUS.COMPUTED] * 3
    assert not {v.evaluation_id for v in forced.versions} & {
        v.evaluation_id for v in first.versions
    }
    assert _backfilled_evaluations(client, "churn") == 6


def test_only_what_is_new_is_computed_a_new_version_a_new_metric_a_new_slice(
    client: Client,
) -> None:
    _three_versions(client)
    prodml.backfill_metric("auc", "churn", "holdout@1", label=LABEL, client=client)
    log_models(client, "churn", [classifier(300)])

    after_a_new_version = prodml.backfill_metric(
        "auc", "churn", "holdout@1", label=LABEL, client=client
    )
    another_metric = prodml.backfill_metric(
        "accuracy", "churn", "holdout@1", label=LABEL, client=client
    )
    with_a_slice = prodml.backfill_metric(
        "auc", "churn", "holdout@1", ["east: region = 'east'"], label=LABEL, client=client
    )

    assert _statuses(after_a_new_version) == [STATUS.STORED] * 3 + [STATUS.COMPUTED]
    assert _statuses(another_metric) == [STATUS.COMPUTED] * 4
    assert _statuses(with_a_slice) == [STATUS.COMPUTED] * 4
    assert _values(with_a_slice) == _values(after_a_new_version)  # the same rows, same answers


def test_a_slice_from_the_command_line_is_computed_for_every_version(client: Client) -> None:
    _three_versions(client)

    result = prodml.backfill_metric(
        "accuracy",
        "churn",
        "holdout@1",
        ["east: region = 'east'", "{name: heavy, where: 'usage > 0.5'}", "{by: region}"],
        label=LABEL,
        client=client,
    )

    assert list(result.slices)[:3] == ["all", "east", "heavy"]
    assert {"region=east", "region=north", "region=south"} <= set(result.slices)
    east = HOLDOUT[HOLDOUT["region"] == "east"]
    expected = [
        sk.accuracy_score(east[LABEL], model.predict(east[FEATURES]))
        for model in (classifier_without_usage(), classifier(100), classifier(200))
    ]
    assert _values(result, "east") == pytest.approx(expected, abs=1e-9)
    assert _values(result, "region=east") == _values(result, "east")
    assert [v.value("heavy").rows for v in result.versions] == [  # type: ignore[union-attr]
        int((HOLDOUT["usage"] > 0.5).sum())
    ] * 3
    again = prodml.backfill_metric(
        "accuracy", "churn", "holdout@1", ["east: region = 'east'"], label=LABEL, client=client
    )
    assert _statuses(again) == [STATUS.STORED] * 3
    changed = prodml.backfill_metric(
        "accuracy", "churn", "holdout@1", ["east: region = 'north'"], label=LABEL, client=client
    )
    assert _statuses(changed) == [STATUS.COMPUTED] * 3  # the same name, another condition


def _write_metrics_module(folder: Path) -> str:
    """A module of metric functions in the working folder, as a user writes one."""
    name = f"hindsight_{folder.name.replace('-', '_')}"
    (folder / f"{name}.py").write_text(
        "import numpy as np\n\n"
        "def share_right(y_true, y_pred):\n"
        "    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))\n\n"
        "def missed_churners(y_true, y_pred):\n"
        "    return ((np.asarray(y_true) == 1) & (np.asarray(y_pred) == 0)).astype(float)\n"
    )
    return name


def test_a_custom_metric_named_module_function_is_called_as_a_suite_calls_it(
    client: Client, tmp_path: Path
) -> None:
    _three_versions(client)
    module = _write_metrics_module(tmp_path)  # the tests run in tmp_path

    by_hand = prodml.backfill_metric(
        f"{module}:share_right", "churn", "holdout@1", label=LABEL, client=client
    )
    built_in = prodml.backfill_metric("accuracy", "churn", "holdout@1", label=LABEL, client=client)
    missed = prodml.backfill_metric(
        f"{module}:missed_churners",
        "churn",
        "holdout@1",
        label=LABEL,
        kind="row",
        higher_is_better=False,
        client=client,
    )

    assert _values(by_hand) == pytest.approx(_values(built_in), abs=1e-12)
    assert by_hand.function == by_hand.metric == f"{module}:share_right"
    for version in by_hand.versions:
        found = version.value()
        assert found is not None and found.low < found.value < found.high
    truth = HOLDOUT[LABEL].to_numpy()
    expected = [
        float(np.mean((truth == 1) & (model.predict(HOLDOUT[FEATURES]) == 0)))
        for model in (classifier_without_usage(), classifier(100), classifier(200))
    ]
    assert _values(missed) == pytest.approx(expected, abs=1e-12)
    assert missed.higher_is_better is False
    again = prodml.backfill_metric(
        f"{module}:share_right", "churn", "holdout@1", label=LABEL, client=client
    )
    assert _statuses(again) == [STATUS.STORED] * 3


def test_a_metric_function_that_fails_on_the_first_version_stops_the_backfill(
    client: Client, tmp_path: Path
) -> None:
    _three_versions(client)
    name = f"broken_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        "def raises(y_true, y_pred):\n    raise ValueError('boom')\n"
    )

    with pytest.raises(InvalidInputError) as stopped:
        prodml.backfill_metric(f"{name}:raises", "churn", "holdout@1", label=LABEL, client=client)

    message = str(stopped.value)
    assert "boom" in message and "churn@1, the first version scored" in message
    assert "Nothing was recorded" in message and "other versions were scored" not in message
    assert _backfilled_evaluations(client, "churn") == 0


def test_a_metric_of_the_models_suite_is_taken_by_name(client: Client) -> None:
    _three_versions(client)
    caught = {"name": "caught", "function": "evaluation_helpers:churners_caught"}
    version = prodml.register_suite(
        "churn", suite(metrics=["auc"], custom_metrics=[caught]), client=client
    )

    result = prodml.backfill_metric("caught", "churn", client=client)

    assert (result.metric, result.function) == ("caught", "evaluation_helpers:churners_caught")
    assert _statuses(result) == [STATUS.COMPUTED] * 3
    (record,) = client.metadata.evaluations(result.versions[0].model_id)
    assert record.suite_version == version


def test_a_regression_model_is_backfilled_on_a_label_of_numbers(client: Client) -> None:
    prices = house_prices()
    prodml.log_dataset("houses", prices, client=client)
    example = prices[["rooms", "area"]].head()
    log_models(client, "price", [price_model()], example=example)

    result = prodml.backfill_metric("mae", "price", "houses@1", label="price", client=client)

    expected = sk.mean_absolute_error(
        prices["price"], price_model().predict(prices[["rooms", "area"]])
    )
    assert _values(result) == pytest.approx([expected])
    assert result.higher_is_better is False


def _unloadable_model(folder: Path) -> object:
    """A model of a class whose module is gone by the time it is loaded again."""
    name = f"vanishing_{folder.name.replace('-', '_')}"
    source = folder / f"{name}.py"
    source.write_text(
        "class Wrapped:\n"
        "    def __init__(self, inner):\n"
        "        self.inner = inner\n"
        "        self.classes_ = inner.classes_\n"
        "    def predict_proba(self, rows):\n"
        "        return self.inner.predict_proba(rows)\n"
        "    def predict(self, rows):\n"
        "        return self.inner.predict(rows)\n"
    )
    sys.path.insert(0, str(folder))
    try:
        model = importlib.import_module(name).Wrapped(classifier(100))
    finally:
        sys.path.remove(str(folder))
    return model


def _forget(model: object, folder: Path) -> None:
    module = type(model).__module__
    (folder / f"{module}.py").unlink()
    sys.modules.pop(module, None)
    importlib.invalidate_caches()


def test_a_version_that_cannot_load_or_read_the_set_is_reported_alone(
    client: Client, tmp_path: Path
) -> None:
    prodml.log_dataset("holdout", HOLDOUT, client=client)
    unloadable = _unloadable_model(tmp_path)
    with_balance = HOLDOUT[FEATURES].head().assign(balance=1.0)
    log_models(client, "churn", [classifier(100)])
    log_models(client, "churn", [unloadable])
    log_models(client, "churn", [Fussy(classifier(100))], example=with_balance)
    log_models(client, "churn", [classifier(200)])
    _forget(unloadable, tmp_path)

    result = prodml.backfill_metric("auc", "churn", "holdout@1", label=LABEL, client=client)

    assert _statuses(result) == [STATUS.COMPUTED, STATUS.FAILED, STATUS.FAILED, STATUS.COMPUTED]
    cannot_load, cannot_read = result.versions[1], result.versions[2]
    assert cannot_load.error is not None and cannot_read.error is not None
    assert "Loading churn@2 failed" in cannot_load.error
    assert "importable" in cannot_load.error  # what to do
    assert "lacks column(s) 'balance'" in cannot_read.error
    assert "--valset" in cannot_read.error
    assert (cannot_load.values, cannot_load.evaluation_id) == ({}, None)
    assert client.metadata.evaluations(cannot_read.model_id) == []
    assert [v.model for v in result.failed()] == ["churn@2", "churn@3"]

    again = prodml.backfill_metric("auc", "churn", "holdout@1", label=LABEL, client=client)

    assert _statuses(again) == [STATUS.STORED, STATUS.FAILED, STATUS.FAILED, STATUS.STORED]


def test_a_model_that_raises_on_every_row_is_a_failed_version(client: Client) -> None:
    prodml.log_dataset("holdout", HOLDOUT, client=client)
    log_models(client, "churn", [Fussy(classifier(100))])  # signature without balance

    (version,) = prodml.backfill_metric(
        "auc", "churn", "holdout@1", label=LABEL, client=client
    ).versions

    assert version.status is STATUS.FAILED
    assert version.error is not None and "answered none of the rows" in version.error
    assert any(f.kind == "model_error" for f in version.findings)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (
            {"model": "nobody", "valset": "holdout@1"},
            NotFoundError,
            ["models", "'nobody'", "prodml models list"],
        ),
        (
            {"valset": "nothing@1"},
            NotFoundError,
            ["valset", "'nothing@1'", "prodml datasets list"],
        ),
        ({"metric": "aucc"}, InvalidInputError, ["metric 'aucc'", "module:function", "auc"]),
        (
            {"metric": "mae", "task": "classification"},
            InvalidInputError,
            ["metric 'mae'", "not a classification metric", "--task regression"],
        ),
        (
            {"metric": "no_such_module_here:score"},
            InvalidInputError,
            ["cannot import no_such_module_here:score", "importable"],
        ),
        ({"label": None}, InvalidInputError, ["label", "--label COLUMN"]),
        ({"label": "churn"}, InvalidInputError, ["label", "no column 'churn'", LABEL]),
        ({"valset": None}, InvalidInputError, ["valset", "--valset NAME@VERSION"]),
        ({"slices": ["{name: all, where: 'usage > 0'}"]}, InvalidInputError, ["--slice", "all"]),
        ({"slices": ["east: nowhere > 1"]}, InvalidInputError, ["Slice 'east'", "nowhere"]),
    ],
)
def test_bad_input_names_the_field_and_the_next_step(
    client: Client, call: dict[str, object], error: type[Exception], words: list[str]
) -> None:
    prodml.log_dataset("holdout", HOLDOUT, client=client)
    log_models(client, "churn", [classifier(100)])
    asked: dict[str, object] = {
        "metric": "auc",
        "model": "churn",
        "valset": "holdout@1",
        "label": LABEL,
        **call,
    }

    with pytest.raises(error) as raised:
        prodml.backfill_metric(client=client, **asked)  # type: ignore[arg-type]

    for word in words:
        assert word in str(raised.value)
    assert client.metadata.evaluations(client.metadata.model_versions("churn")[0].id) == []


def test_a_regression_label_refuses_a_classification_metric_by_name(client: Client) -> None:
    prices = house_prices()
    prodml.log_dataset("houses", prices, client=client)
    log_models(client, "price", [price_model()], example=prices[["rooms", "area"]].head())

    with pytest.raises(InvalidInputError, match="'accuracy' is not a regression metric"):
        prodml.backfill_metric(
            "accuracy", "price", "houses@1", label="price", task="regression", client=client
        )


def test_progress_is_reported_per_version(client: Client) -> None:
    _three_versions(client)
    seen: list[tuple[int, int]] = []

    prodml.backfill_metric(
        "auc",
        "churn",
        "holdout@1",
        label=LABEL,
        progress=lambda done, total: seen.append((done, total)),
        client=client,
    )

    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_a_model_of_several_classes_is_backfilled_on_its_own_labels(client: Client) -> None:
    rows = HOLDOUT.assign(plan=np.where(HOLDOUT["usage"] > 0.5, "gold", "basic"))
    rows.loc[rows["usage"] < -0.5, "plan"] = "free"
    prodml.log_dataset("plans", rows, client=client)
    model = LogisticRegression().fit(rows[FEATURES], rows["plan"])
    log_models(client, "plan", [model])

    result = prodml.backfill_metric("macro_f1", "plan", "plans@1", label="plan", client=client)

    expected = sk.f1_score(rows["plan"], model.predict(rows[FEATURES]), average="macro")
    assert _values(result) == pytest.approx([expected], abs=1e-9)


def test_a_metric_the_version_cannot_give_is_a_failed_version_not_stored(client: Client) -> None:
    """AUC needs probabilities: a model without them has no value and nothing is stored."""
    prodml.log_dataset("holdout", HOLDOUT, client=client)
    log_models(client, "churn", [_NoProbabilities(classifier(100))])

    (version,) = prodml.backfill_metric(
        "auc", "churn", "holdout@1", label=LABEL, client=client
    ).versions

    assert version.status is STATUS.FAILED
    assert version.error is not None and "predict_proba" in version.error
    assert client.metadata.evaluations(version.model_id) == []


class _NoProbabilities:
    def __init__(self, inner: LogisticRegression) -> None:
        self.inner = inner

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.inner.predict(rows[FEATURES]))
