"""Batch scoring in one process: a stored table version scored by a model version
through its Predictor, kept as a new dataset version linked to both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scoring_data import FEATURES, classifier, customers, dataset_names, logged
from sklearn.linear_model import LinearRegression

import prodml
from prodml.client import Client
from prodml.data.stored_tables import read_rows
from prodml.domain.lineage import LineageTree
from prodml.errors import InvalidInputError, NotFoundError
from prodml.predict.scoring_parts import proba_names

INPUT = ["id", "x1", "x2", "region", "outcome"]


def _relations(tree: LineageTree) -> set[tuple[str, str]]:
    return {(child.node.label, child.relation or "") for child in tree.children}


def test_the_output_is_the_input_with_the_models_answers(client: Client) -> None:
    model = logged(client)

    scored = prodml.score("churn@1", "customers@1", client=client)

    output = prodml.load_table(scored.output, client=client)
    assert scored.output.ref == "customers-scored-churn@1"
    assert output.column_names == [*INPUT, "prediction", "proba_leave", "proba_stay"]
    assert output.select(INPUT).equals(prodml.load_table("customers@1", client=client))
    rows = customers()[FEATURES]
    assert output.column("prediction").to_pylist() == model.predict(rows).tolist()
    proba = model.predict_proba(rows)
    np.testing.assert_array_equal(output.column("proba_leave").to_numpy(), proba[:, 0])
    np.testing.assert_array_equal(output.column("proba_stay").to_numpy(), proba[:, 1])
    assert (scored.rows, scored.failed, scored.abstained) == (3000, 0, 0)
    assert scored.added == ("prediction", "proba_leave", "proba_stay")
    assert (scored.model, scored.input.ref, scored.executor) == ("churn@1", "customers@1", "local")


def test_lineage_links_the_model_and_the_input_to_the_output(client: Client) -> None:
    logged(client)

    scored = prodml.score("churn@1", "customers@1", name="scores", client=client)

    label = f"dataset scores@1 [{scored.output.id[:12]}]"
    assert _relations(prodml.upstream("scores@1", client=client)) == {
        ("model churn@1", "scored"),
        (f"dataset customers@1 [{scored.input.id[:12]}]", "input"),
    }
    assert (label, "scored") in _relations(prodml.downstream("churn@1", client=client))
    assert (label, "input") in _relations(prodml.downstream("customers@1", client=client))


def test_the_carried_columns_keep_the_inputs_summaries_and_profiles(
    sqlite_client: Client,
) -> None:
    logged(sqlite_client)

    scored = prodml.score("churn@1", "customers@1", client=sqlite_client)

    carried = len(INPUT)
    assert scored.output.columns[:carried] == scored.input.columns
    assert [c.name for c in scored.output.columns[carried:]] == list(scored.added)
    before = prodml.column_distributions("customers@1", client=sqlite_client)
    after = prodml.column_distributions(scored.output, client=sqlite_client)
    assert after[:carried] == before
    (prediction,) = [d for d in after if d.column == "prediction"]
    assert (prediction.rows, prediction.distinct) == (3000, 2)
    assert {value for value, _ in prediction.top} == {"leave", "stay"}


def test_any_number_of_parts_gives_the_same_version(sqlite_client: Client) -> None:
    logged(sqlite_client)
    whole = prodml.score("churn@1", "customers@1", client=sqlite_client)
    seen: list[tuple[int, int]] = []

    parts = prodml.score(
        "churn@1", "customers@1", partitions=3, progress=lambda *p: seen.append(p),
        client=sqlite_client,
    )  # fmt: skip

    assert parts.output == whole.output  # the same content is the same version
    assert parts.partitions == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_rows_are_read_from_the_row_groups_that_hold_them(
    sqlite_client: Client, tmp_path: Path
) -> None:
    table = pa.table({"n": list(range(50)), "s": [str(i) for i in range(50)]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=7)
    digest, _ = sqlite_client.artifacts.put_file(tmp_path / "t.parquet")

    for start, stop in [(0, 50), (3, 10), (7, 14), (13, 40), (49, 50), (20, 20)]:
        rows = read_rows(sqlite_client, digest, start, stop)
        assert rows.column("n").to_pylist() == list(range(start, stop))


def test_a_regressor_adds_its_prediction_only(sqlite_client: Client) -> None:
    frame = customers()
    model = LinearRegression().fit(frame[FEATURES], frame["x1"] * 2 + frame["x2"])
    prodml.log_dataset("customers", frame, client=sqlite_client)
    with prodml.start_run("fit", client=sqlite_client) as run:
        run.log_model(model, "spend", example=frame[FEATURES].head())

    scored = prodml.score("spend@1", "customers@1", client=sqlite_client)

    output = prodml.load_table(scored.output, client=sqlite_client)
    assert output.column_names == [*INPUT, "prediction"]
    np.testing.assert_array_equal(
        output.column("prediction").to_numpy(), model.predict(frame[FEATURES])
    )


def test_guardrails_change_the_answers_as_when_served(sqlite_client: Client) -> None:
    logged(sqlite_client)
    rules = {
        "rules": [
            {"name": "big-spenders-stay", "when": "x1 > 1.5", "set": "stay"},
            {"name": "unsure", "confidence_below": 0.6, "abstain": True},
        ]
    }
    prodml.attach_guardrails("churn@1", rules, client=sqlite_client)

    scored = prodml.score("churn@1", "customers@1", client=sqlite_client)

    served = prodml.load_predictor("churn@1", client=sqlite_client).predict(customers())
    output = prodml.load_table(scored.output, client=sqlite_client)
    assert output.column("prediction").to_pylist() == served
    assert scored.abstained == served.count(None) > 0
    high = customers()["x1"] > 1.5
    assert {a for a, h in zip(served, high, strict=True) if h} <= {"stay", None}


class Fussy:
    """A classifier that refuses rows with a large x1, as a real service might."""

    def __init__(self) -> None:
        self.inner = classifier()
        self.classes_ = self.inner.classes_

    def _check(self, rows: pd.DataFrame) -> None:
        if (rows["x1"] > 2.5).any():
            raise ValueError("x1 above 2.5")

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        self._check(rows)
        return np.asarray(self.inner.predict(rows))

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        self._check(rows)
        return np.asarray(self.inner.predict_proba(rows))


def test_rows_the_model_raises_on_have_no_answer(sqlite_client: Client) -> None:
    frame = customers()
    prodml.log_dataset("customers", frame, client=sqlite_client)
    with prodml.start_run("fit", client=sqlite_client) as run:
        run.log_model(Fussy(), "fussy", example=frame[FEATURES].head())

    scored = prodml.score("fussy@1", "customers@1", client=sqlite_client)

    refused = frame["x1"] > 2.5
    assert scored.failed == int(refused.sum()) > 0
    assert scored.first_error == "ValueError: x1 above 2.5"
    output = prodml.load_table(scored.output, client=sqlite_client).to_pandas()
    assert output.loc[refused, "prediction"].isna().all()
    assert output.loc[refused, "proba_leave"].isna().all()
    fine = frame.loc[~refused, FEATURES]
    assert output.loc[~refused, "prediction"].tolist() == classifier().predict(fine).tolist()


def test_unknown_models_and_datasets_are_refused_and_nothing_is_stored(
    sqlite_client: Client,
) -> None:
    logged(sqlite_client)
    before = dataset_names(sqlite_client)

    with pytest.raises(NotFoundError, match="churn@9"):
        prodml.score("churn@9", "customers@1", client=sqlite_client)
    with pytest.raises(NotFoundError, match="nobody"):
        prodml.score("nobody@1", "customers@1", client=sqlite_client)
    with pytest.raises(NotFoundError, match="customers@4"):
        prodml.score("churn@1", "customers@4", client=sqlite_client)
    with pytest.raises(NotFoundError, match="prodml datasets list"):
        prodml.score("churn@1", "clients@1", client=sqlite_client)

    assert dataset_names(sqlite_client) == before


def test_a_dataset_without_a_column_the_model_takes_is_refused_by_name(
    sqlite_client: Client,
) -> None:
    logged(sqlite_client)
    prodml.log_dataset("partial", customers().drop(columns=["x2"]), client=sqlite_client)
    before = dataset_names(sqlite_client)

    with pytest.raises(InvalidInputError) as refused:
        prodml.score("churn@1", "partial@1", client=sqlite_client)

    message = str(refused.value)
    assert "Dataset partial@1 lacks column(s) 'x2' that model churn@1 takes" in message
    assert "prodml datasets log" in message
    assert dataset_names(sqlite_client) == before


def test_inputs_scoring_cannot_take_are_refused(sqlite_client: Client, tmp_path: Path) -> None:
    logged(sqlite_client)
    prodml.log_dataset("again", customers().assign(prediction=1), client=sqlite_client)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a")
    prodml.log_dataset("docs", tmp_path / "docs", client=sqlite_client)
    before = dataset_names(sqlite_client)

    with pytest.raises(InvalidInputError, match="already has column\\(s\\) 'prediction'"):
        prodml.score("churn@1", "again@1", client=sqlite_client)
    with pytest.raises(InvalidInputError, match="docs@1 is a set of files"):
        prodml.score("churn@1", "docs@1", client=sqlite_client)
    with pytest.raises(InvalidInputError, match="partitions must be 1 or more"):
        prodml.score("churn@1", "customers@1", partitions=0, client=sqlite_client)
    with pytest.raises(InvalidInputError, match="No executor 'spark'; choose one of: local, ray"):
        prodml.score("churn@1", "customers@1", executor="spark", client=sqlite_client)
    with pytest.raises(InvalidInputError, match="applies to the ray executor"):
        prodml.score("churn@1", "customers@1", address="auto", client=sqlite_client)
    with pytest.raises(InvalidInputError, match="not valid"):
        prodml.score("churn@1", "customers@1", name="bad name!", client=sqlite_client)

    assert dataset_names(sqlite_client) == before


def test_probability_columns_are_named_for_their_class() -> None:
    assert proba_names([0, 1]) == ["proba_0", "proba_1"]
    assert proba_names(["late", "on time", "on-time", 2.5]) == [
        "proba_late", "proba_on_time", "proba_on_time_2", "proba_2_5",
    ]  # fmt: skip


# The command, run as a user runs it: its own process on a store home.


def _prodml(home: Path, *args: str, path: str = "") -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    env = {**kept, "PRODML_HOME": str(home), "PRODML_USER": "dana", "COLUMNS": "200"}
    if path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "prodml.cli.main", *args],
        env=env, cwd=home.parent, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    assert "Unexpected error" not in result.stderr, result.stderr
    return result


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    logged(client)
    prodml.log_dataset("partial", customers().drop(columns=["x2"]), client=client)
    client.close()
    return home


def test_the_command_scores_and_says_where_the_output_is(home: Path) -> None:
    shown = _prodml(home, "score", "churn@1", "customers@1")
    as_json = _prodml(home, "score", "churn@champion", "customers@1", "--json")
    named = _prodml(home, "score", "churn@1", "customers@1", "-o", "monday", "--json")

    assert shown.returncode == 0, shown.stderr
    assert "customers-scored-churn@1" in shown.stdout
    assert "3,000 rows of customers@1 scored by churn@1 (local, 1 part)" in shown.stdout
    assert "added: prediction, proba_leave, proba_stay" in shown.stdout
    assert "prodml lineage customers-scored-churn@1" in shown.stdout
    assert as_json.returncode == 1  # no alias champion yet
    assert "Model 'churn' has no alias 'champion'" in as_json.stderr
    assert named.returncode == 0, named.stderr
    document = json.loads(named.stdout)
    assert document["output"]["name"] == "monday"
    assert document["added"] == ["prediction", "proba_leave", "proba_stay"]


def test_the_command_names_a_missing_column_and_the_next_step(home: Path) -> None:
    refused = _prodml(home, "score", "churn@1", "partial@1")

    assert refused.returncode == 1
    assert "Error: Dataset partial@1 lacks column(s) 'x2'" in refused.stderr
    assert "prodml datasets log" in refused.stderr


def test_the_ray_executor_without_ray_says_what_to_install(home: Path, tmp_path: Path) -> None:
    shadow = tmp_path / "no-ray"
    (shadow / "ray").mkdir(parents=True)
    (shadow / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")

    refused = _prodml(
        home, "score", "churn@1", "customers@1", "--executor", "ray", path=str(shadow)
    )

    assert refused.returncode == 1
    assert "pip install 'prodml[ray]'" in refused.stderr
    assert "--executor local" in refused.stderr


def test_the_added_columns_profiles_made_in_parts_say_what_one_process_says(
    sqlite_client: Client,
) -> None:
    import datasketches

    from prodml.data.profile import profile_table
    from prodml.data.sketches import KLL_K
    from prodml.data.stored_profiles import profiles_of

    logged(sqlite_client)
    scored = prodml.score("churn@1", "customers@1", partitions=3, client=sqlite_client)

    (stored,) = profiles_of(sqlite_client, scored.output)
    table = prodml.load_table(scored.output, client=sqlite_client)
    whole = profile_table(table)
    summary = {c["name"]: c for c in stored.to_summary()["columns"]}
    expected = {c["name"]: c for c in whole.to_summary()["columns"]}
    assert list(summary) == list(expected)
    # a quantile sketch promises ranks, not values: twice its 99% bound on the rank error
    slack = 2 * datasketches.kll_doubles_sketch.get_normalized_rank_error(KLL_K, False)
    for name in ("prediction", "proba_leave", "proba_stay"):
        for key in ("rows", "nulls", "nans", "min", "max"):
            assert summary[name][key] == expected[name][key], (name, key)
        assert summary[name]["distinct"] == pytest.approx(expected[name]["distinct"], rel=0.03)
        if isinstance(expected[name]["median"], float):
            values = np.sort(table.column(name).to_numpy())
            median = summary[name]["median"]
            below = np.searchsorted(values, median, side="left") / len(values)
            at_or_below = np.searchsorted(values, median, side="right") / len(values)
            assert below - slack <= 0.5 <= at_or_below + slack, (name, median, below)
