"""Dynamic validation sets: each append is a new version with every row's source
recorded, known rows are skipped, the schema is kept, and suites naming the set
evaluate on its latest version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from evaluation_helpers import classifier, customers, estimate, log_models, suite

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError, NotFoundError


def _failures(first: int, count: int) -> pd.DataFrame:
    return customers().iloc[first : first + count].reset_index(drop=True)


def test_adding_rows_makes_versions_with_each_rows_source(client: Client, tmp_path: Path) -> None:
    week1 = tmp_path / "week1.csv"
    _failures(0, 5).to_csv(week1, index=False)

    first = prodml.add_to_valset("failures", week1, client=client)
    second = prodml.add_to_valset("failures", _failures(5, 3), source="ticket-42", client=client)
    third = prodml.add_to_valset("failures", _failures(8, 2), client=client)

    assert (first.ref, second.ref, third.ref) == ("failures@1", "failures@2", "failures@3")
    assert (first.num_rows, second.num_rows, third.num_rows) == (5, 8, 10)
    table = prodml.load_table("failures@3", client=client)
    assert table.column("_source").to_pylist() == (
        ["file week1.csv"] * 5 + ["ticket-42"] * 3 + ["added by tester"] * 2
    )
    assert table.column("usage").to_pylist() == pytest.approx(_failures(0, 10)["usage"].tolist())
    grown = [e for e in prodml.events(client=client) if e.action == "valset.grown"]
    assert [(e.details["ref"], e.details["added"], e.reason) for e in grown] == [
        ("failures@1", 5, "file week1.csv"),
        ("failures@2", 3, "ticket-42"),
        ("failures@3", 2, "added by tester"),
    ]


def test_rows_already_present_are_skipped(client: Client) -> None:
    prodml.add_to_valset("failures", _failures(0, 5), source="week 1", client=client)

    same = prodml.add_to_valset("failures", _failures(0, 5), source="week 2", client=client)
    assert same.ref == "failures@1"
    assert len(prodml.list_datasets("failures", client=client)) == 1

    overlapping = pd.concat([_failures(3, 4), _failures(6, 1)])  # 3..6, with 6 twice
    grown = prodml.add_to_valset("failures", overlapping, source="week 2", client=client)

    assert (grown.ref, grown.num_rows) == ("failures@2", 7)
    table = prodml.load_table("failures@2", client=client)
    assert table.column("usage").to_pylist() == pytest.approx(_failures(0, 7)["usage"].tolist())
    assert table.column("_source").to_pylist() == ["week 1"] * 5 + ["week 2"] * 2
    (event,) = [
        e
        for e in prodml.events(client=client)
        if e.action == "valset.grown" and e.details["ref"] == "failures@2"
    ]
    assert (event.details["added"], event.details["duplicates_skipped"]) == (2, 3)


def test_rows_with_another_schema_are_refused_naming_the_column(client: Client) -> None:
    prodml.add_to_valset("failures", _failures(0, 5), client=client)

    with pytest.raises(InvalidInputError, match="lack column\\(s\\) tenure"):
        prodml.add_to_valset("failures", _failures(5, 2).drop(columns="tenure"), client=client)
    with pytest.raises(InvalidInputError, match="have column\\(s\\) channel that failures@1"):
        prodml.add_to_valset("failures", _failures(5, 2).assign(channel="web"), client=client)
    with pytest.raises(InvalidInputError, match="Column 'usage' of the rows to add holds"):
        prodml.add_to_valset("failures", _failures(5, 2).assign(usage="high"), client=client)
    with pytest.raises(InvalidInputError, match="No rows to add to 'failures'"):
        prodml.add_to_valset("failures", _failures(0, 0), client=client)

    assert [v.ref for v in prodml.list_datasets("failures", client=client)] == ["failures@1"]


def test_history_shows_rows_added_per_version_and_source(client: Client, tmp_path: Path) -> None:
    week1 = tmp_path / "week1.csv"
    _failures(0, 4).to_csv(week1, index=False)
    prodml.add_to_valset("failures", week1, client=client)
    mixed = pd.concat(
        [
            _failures(4, 2).assign(_source="pager"),
            _failures(6, 3).assign(_source="ticket-42"),
        ]
    )
    prodml.add_to_valset("failures", mixed, client=client)

    history = prodml.valset_history("failures", client=client)

    assert [(g.ref, g.rows, g.added, g.sources, g.author) for g in history] == [
        ("failures@1", 4, 4, {"file week1.csv": 4}, "tester"),
        ("failures@2", 9, 5, {"pager": 2, "ticket-42": 3}, "tester"),
    ]
    with pytest.raises(NotFoundError, match="No validation set 'successes'"):
        prodml.valset_history("successes", client=client)


def test_a_suite_naming_the_set_evaluates_on_its_latest_version(client: Client) -> None:
    log_models(client, "churn", [classifier()])
    prodml.add_to_valset("failures", _failures(0, 300), source="march", client=client)
    prodml.register_suite(
        "churn", suite(validation_sets=["failures"], metrics=["accuracy"]), client=client
    )
    before = prodml.evaluate_model("churn@1", client=client)

    prodml.add_to_valset("failures", _failures(300, 200), source="april", client=client)
    after = prodml.evaluate_model("churn@1", client=client)

    assert before.valsets == ("failures@1",)
    assert after.valsets == ("failures@2",)
    assert estimate(before, "failures@1", "all", "accuracy").rows == 300
    assert estimate(after, "failures@2", "all", "accuracy").rows == 500
    prodml.register_suite(
        "churn", suite(validation_sets=["failures@1"], metrics=["accuracy"]), client=client
    )
    pinned = prodml.evaluate_model("churn@1", client=client)
    assert pinned.valsets == ("failures@1",)
