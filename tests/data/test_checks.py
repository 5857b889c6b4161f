"""Checks inferred from history as YAML a team edits: every bound says where it came
from, the file reads back, and an edited bound changes what a validation finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import prodml
from prodml.client import Client
from prodml.data.profile import TableProfile
from prodml.domain.validation import ValidationResult
from prodml.errors import InvalidInputError

CITIES = ["Oslo", "Lima", "Rome"]


def _trips(seed: int, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": rng.choice(10**9, rows, replace=False),
            "fare": rng.gamma(4.0, 25.0, rows),
            "city": rng.choice(CITIES, rows, p=[0.5, 0.3, 0.2]),
        }
    )


def _profile(data: object) -> TableProfile:
    made = prodml.profile(data)
    assert isinstance(made, TableProfile)
    return made


@pytest.fixture(scope="module")
def history() -> list[TableProfile]:
    return [_profile(_trips(seed)) for seed in range(8)]


@pytest.fixture
def checks_file(sqlite_client: Client, history: list[TableProfile], tmp_path: Path) -> Path:
    path = tmp_path / "trips.checks.yaml"
    prodml.infer_checks(history, path=path, client=sqlite_client)
    return path


def _edit(path: Path, change: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _check(
    client: Client, batch: pd.DataFrame, history: list[TableProfile], checks: Path
) -> ValidationResult:
    return prodml.validate(batch, against=history, checks=checks, client=client)


def _found(result: ValidationResult) -> set[tuple[str, str | None, str]]:
    return {(f.kind.value, f.column, f.statistic) for f in result.findings}


def _checks_in(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"table.{name}", spec) for name, spec in doc["table"].items()]
    for column, specs in doc["columns"].items():
        found += [(f"{column}.{name}", spec) for name, spec in specs.items()]
    return found


def test_inferred_checks_read_back_and_say_where_each_bound_came_from(
    sqlite_client: Client, history: list[TableProfile], tmp_path: Path
) -> None:
    path = tmp_path / "trips.checks.yaml"

    doc = prodml.infer_checks(history, path=path, client=sqlite_client)

    text = path.read_text()
    assert text.startswith("# Checks inferred by prodml")
    assert yaml.safe_load(text) == doc
    assert (doc["batches"], list(doc["columns"])) == (8, ["id", "fare", "city"])
    checks = _checks_in(doc)
    assert len(checks) >= 10
    for name, spec in checks:
        assert isinstance(spec.get("from"), str) and spec["from"], name
    fare, city = doc["columns"]["fare"], doc["columns"]["city"]
    assert fare["required"]["expect"] is True and fare["type"]["expect"] == "double"
    assert 0 < fare["null_share"]["max"] < 0.05
    assert fare["range"]["min"] == min(h.columns["fare"].minimum for h in history)
    assert city["categories"]["allowed"] == sorted(CITIES)
    assert doc["table"]["row_count"]["min"] < 2000 < doc["table"]["row_count"]["max"]


def test_a_clean_batch_passes_the_inferred_checks(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    result = _check(sqlite_client, _trips(20), history, checks_file)

    assert not result.alarm, [f.message for f in result.findings]


def test_lowering_a_null_share_bound_changes_the_result(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    batch = _trips(21)
    batch.loc[batch.sample(frac=0.005, random_state=0).index, "fare"] = None
    before = _check(sqlite_client, batch, history, checks_file)

    _edit(checks_file, lambda doc: doc["columns"]["fare"]["null_share"].update(max=0.001))
    after = _check(sqlite_client, batch, history, checks_file)

    assert not before.alarm, [f.message for f in before.findings]
    assert _found(after) == {("soft", "fare", "null_share")}
    (finding,) = after.findings
    assert (finding.observed, finding.expected) == (0.005, [None, 0.001])
    assert "0.001" in finding.message


def test_narrowing_a_range_flags_the_values_outside_it(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    batch = _trips(22)
    _edit(checks_file, lambda doc: doc["columns"]["fare"]["range"].update(max=150.0))

    result = _check(sqlite_client, batch, history, checks_file)

    assert _found(result) == {("soft", "fare", "out_of_range_share")}
    observed = result.findings[0].observed
    assert observed == pytest.approx((batch["fare"] > 150.0).mean(), abs=0.01)


def test_removing_an_allowed_category_flags_it_by_name(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    _edit(checks_file, lambda doc: doc["columns"]["city"]["categories"]["allowed"].remove("Rome"))

    result = _check(sqlite_client, _trips(23), history, checks_file)

    assert _found(result) == {("soft", "city", "new_category_share")}
    assert "(new: Rome)" in result.findings[0].message


def test_schema_checks_are_hard(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    as_text = _trips(24).assign(fare=lambda f: f["fare"].astype(str))
    missing = _trips(25).drop(columns="city")

    typed = _check(sqlite_client, as_text, history, checks_file)
    dropped = _check(sqlite_client, missing, history, checks_file)

    assert typed.blocked and _found(typed) == {("hard", "fare", "type")}
    assert "the checks expect double" in typed.findings[0].message
    assert dropped.blocked and _found(dropped) == {("hard", "city", "missing_column")}


def test_a_column_the_checks_make_optional_may_be_missing(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    _edit(checks_file, lambda doc: doc["columns"]["city"]["required"].update(expect=False))

    result = _check(sqlite_client, _trips(26).drop(columns="city"), history, checks_file)

    assert not result.alarm, [f.message for f in result.findings]


def test_a_column_not_in_the_checks_is_soft(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    result = _check(sqlite_client, _trips(27).assign(tip=1.0), history, checks_file)

    assert _found(result) == {("soft", "tip", "new_column")}


def test_drift_is_still_judged_against_history(
    sqlite_client: Client, history: list[TableProfile], checks_file: Path
) -> None:
    batch = _trips(28).assign(fare=lambda f: f["fare"] * 100)

    result = _check(sqlite_client, batch, history, checks_file)

    assert ("drift", "fare", "mean") in _found(result)
    assert ("soft", "fare", "out_of_range_share") in _found(result)  # from the checks
    assert result.columns_at_fault == ("fare",)


def test_checks_given_as_a_mapping_work_like_the_file(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    doc = prodml.infer_checks(history, client=sqlite_client)
    doc["columns"]["fare"]["type"]["expect"] = "large_string"

    result = prodml.validate(_trips(29), against=history, checks=doc, client=sqlite_client)

    assert _found(result) == {("hard", "fare", "type")}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("columns: [1, 2\n", "is not valid YAML"),
        ("format: 1\n", "columns is required .*prodml checks infer NAME"),
    ],
)
def test_a_broken_checks_file_is_a_clear_error(
    sqlite_client: Client, history: list[TableProfile], tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content)

    with pytest.raises(InvalidInputError, match=says):
        _check(sqlite_client, _trips(30), history, path)


def test_a_checks_file_that_is_not_there_is_a_clear_error(
    sqlite_client: Client, history: list[TableProfile], tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="Cannot read checks file"):
        _check(sqlite_client, _trips(31), history, tmp_path / "nowhere.yaml")


def test_checks_inferred_from_a_logged_dataset_keep_its_key(client: Client, tmp_path: Path) -> None:
    for seed in range(4):
        prodml.log_dataset("trips", _trips(seed), key="id", client=client)
    path = tmp_path / "trips.checks.yaml"

    doc = prodml.infer_checks("trips", path=path, client=client)

    assert doc["history"] == "4 version(s) of trips (trips@1..trips@4)"
    assert doc["table"]["unique"]["columns"] == ["id"]
    assert yaml.safe_load(path.read_text()) == doc
    repeated = _trips(32)
    repeated.loc[:9, "id"] = repeated.loc[0, "id"]
    result = prodml.validate(repeated, against="trips", checks=path, client=client)
    assert _found(result) == {("soft", "id", "unique_key")}


def test_editing_the_unique_columns_changes_the_result(client: Client, tmp_path: Path) -> None:
    for seed in range(4):
        prodml.log_dataset("trips", _trips(seed), key="id", client=client)
    path = tmp_path / "trips.checks.yaml"
    prodml.infer_checks("trips", path=path, client=client)
    _edit(path, lambda doc: doc["table"]["unique"].update(columns=["city"]))

    result = prodml.validate(_trips(33), against="trips", checks=path, client=client)

    assert ("soft", "city", "unique_key") in _found(result)


def test_no_clean_history_to_infer_from_is_a_clear_error(client: Client) -> None:
    prodml.log_dataset("trips", _trips(34), client=client)
    reference = _profile(_trips(35).assign(tip=1.0))
    assert prodml.validate("trips@1", against=reference, client=client).blocked  # no tip

    with pytest.raises(InvalidInputError) as raised:
        prodml.infer_checks("trips", client=client)

    message = str(raised.value)
    assert "No history" in message and "1 blocked version(s) left out" in message
