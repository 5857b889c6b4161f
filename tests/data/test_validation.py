"""Validating a batch against the history of past batches: what each kind of finding
looks like, how bounds are calibrated on history, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import prodml
from prodml.client import Client
from prodml.data.profile import TableProfile
from prodml.domain.validation import Finding, FindingKind, ValidationResult
from prodml.errors import DataReadError

CITIES = ["Oslo", "Lima", "Rome", "Kyiv", "Pune"]
CABINS = ["economy", "business", "first"]


def _trips(seed: int, rows: int = 2000, shift: float = 0.0) -> pd.DataFrame:
    """A batch of trips; ``shift`` moves the mean distance by that many standard deviations."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "fare": rng.gamma(4.0, 25.0, rows),
            "distance": rng.normal(800.0 + 200.0 * shift, 200.0, rows),
            "passengers": rng.poisson(2.0, rows),
            "city": rng.choice(CITIES, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
            "cabin": rng.choice(CABINS, rows, p=[0.8, 0.15, 0.05]),
        }
    )


def _profile(data: object) -> TableProfile:
    made = prodml.profile(data)
    assert isinstance(made, TableProfile)
    return made


@pytest.fixture(scope="module")
def history() -> list[TableProfile]:
    """Twelve past batches of 2,000 rows from the same distribution."""
    return [_profile(_trips(seed)) for seed in range(12)]


def _check(client: Client, batch: object, against: object) -> ValidationResult:
    return prodml.validate(batch, against=against, client=client)


def _found(result: ValidationResult) -> set[tuple[str, str | None, str]]:
    return {(f.kind.value, f.column, f.statistic) for f in result.findings}


def _one(result: ValidationResult, column: str | None, statistic: str) -> Finding:
    (finding,) = [f for f in result.findings if (f.column, f.statistic) == (column, statistic)]
    return finding


def _some_rows(frame: pd.DataFrame, share: float, seed: int = 0) -> pd.Index:
    return frame.sample(frac=share, random_state=seed).index


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_a_clean_batch_raises_no_alarm(
    sqlite_client: Client, history: list[TableProfile], seed: int
) -> None:
    result = _check(sqlite_client, _trips(seed), history)

    assert not result.alarm, [f.message for f in result.findings]
    assert not result.blocked
    assert result.findings == () and result.columns_at_fault == ()
    assert (result.history_size, result.rows) == (12, 2000)
    assert result.history.startswith("12 given")
    assert result.tests >= 5 * 2  # every column was judged, not skipped
    assert result.notes == ()


def test_numbers_that_become_text_are_hard_and_block(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = _trips(103).assign(fare=lambda f: f["fare"].round(2).astype(str))

    result = _check(sqlite_client, batch, history)

    assert result.blocked and result.alarm
    finding = result.findings[0]
    assert (finding.kind, finding.column, finding.statistic) == (FindingKind.HARD, "fare", "type")
    assert "string" in str(finding.observed) and finding.expected == "double"
    assert "'fare'" in finding.message and finding.action.startswith("block")
    assert result.columns_at_fault[0] == "fare"


def test_a_missing_column_is_hard(sqlite_client: Client, history: list[TableProfile]) -> None:
    result = _check(sqlite_client, _trips(104).drop(columns="cabin"), history)

    assert result.blocked
    finding = _one(result, "cabin", "missing_column")
    assert finding.kind is FindingKind.HARD
    assert "'cabin' is missing" in finding.message
    assert _found(result) == {("hard", "cabin", "missing_column")}


def test_a_fifth_of_nulls_is_a_soft_null_share(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = _trips(105)
    batch.loc[_some_rows(batch, 0.2), "distance"] = None

    result = _check(sqlite_client, batch, history)

    assert result.alarm and not result.blocked
    assert _found(result) == {("soft", "distance", "null_share")}
    finding = _one(result, "distance", "null_share")
    assert finding.observed == pytest.approx(0.2)
    low, high = finding.expected
    assert low is None and 0.0 < high < 0.05
    assert finding.score > 1 and finding.z is not None and finding.z > 3
    assert finding.action.startswith("warn")


def test_a_unit_change_is_drift_and_its_column_is_ranked_first(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = _trips(106).assign(fare=lambda f: f["fare"] * 100)
    batch.loc[_some_rows(batch, 0.03), "distance"] = None  # a smaller problem elsewhere

    result = _check(sqlite_client, batch, history)

    assert not result.blocked
    assert ("drift", "fare", "mean") in _found(result)
    assert ("drift", "fare", "distribution") in _found(result)
    assert ("soft", "distance", "null_share") in _found(result)
    assert result.columns_at_fault == ("fare", "distance")
    mean = _one(result, "fare", "mean")
    assert mean.observed == pytest.approx(batch["fare"].mean(), rel=1e-3)
    low, high = mean.expected
    assert low < 100.0 < high < 200.0  # the history's mean fare is about 100
    assert mean.action.startswith("investigate")


def test_a_new_category_is_soft_and_named(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = _trips(107)
    batch.loc[_some_rows(batch, 0.1), "city"] = "Atlantis"

    result = _check(sqlite_client, batch, history)

    assert not result.blocked
    finding = _one(result, "city", "new_category_share")
    assert finding.kind is FindingKind.SOFT
    assert finding.observed == pytest.approx(0.1)
    assert "Atlantis" in finding.message
    assert result.columns_at_fault == ("city",)


def test_duplicated_rows_are_a_soft_table_finding(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    rows = _trips(108)
    batch = pd.concat([rows.iloc[:1400], rows.iloc[:600]], ignore_index=True)

    result = _check(sqlite_client, batch, history)

    assert _found(result) == {("soft", None, "duplicate_share")}
    finding = _one(result, None, "duplicate_share")
    assert finding.observed == pytest.approx(0.3)
    assert "the table" in finding.message
    assert result.columns_at_fault == ()


def test_a_constant_column_is_drift(sqlite_client: Client, history: list[TableProfile]) -> None:
    batch = _trips(109).assign(distance=800.0)

    result = _check(sqlite_client, batch, history)

    assert not result.blocked
    assert ("drift", "distance", "std") in _found(result)
    assert {f.kind for f in result.findings} == {FindingKind.DRIFT}
    assert result.columns_at_fault == ("distance",)


def test_findings_say_what_was_seen_and_what_was_expected(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = _trips(110).assign(fare=lambda f: f["fare"] * 100)
    batch.loc[_some_rows(batch, 0.1), "city"] = "Atlantis"
    batch = batch.drop(columns="cabin")

    result = _check(sqlite_client, batch, history)

    assert {f.kind for f in result.findings} == set(FindingKind)
    assert result.findings[0].kind is FindingKind.HARD  # hard findings come first
    for finding in result.findings:
        assert finding.column in {"fare", "city", "cabin"}
        assert finding.statistic and finding.message and finding.expected is not None
        if finding.kind is not FindingKind.HARD:
            assert isinstance(finding.observed, float)
            assert isinstance(finding.expected, list) and len(finding.expected) == 2
            assert finding.score > 1.0
            assert str(finding.observed) in finding.message
    scores = [f.score for f in result.findings if f.kind is not FindingKind.HARD]
    assert scores == sorted(scores, reverse=True)


def test_a_result_as_a_dict_is_json(sqlite_client: Client, history: list[TableProfile]) -> None:
    batch = _trips(111).assign(fare=lambda f: f["fare"] * 100)
    batch.loc[_some_rows(batch, 0.2), "distance"] = None
    blocked = _check(sqlite_client, batch.drop(columns="cabin"), history)
    warned = _check(sqlite_client, batch, history)

    for result in (blocked, warned):
        doc = json.loads(json.dumps(result.to_dict()))
        assert doc["alarm"] is True and doc["blocked"] is result.blocked
        assert doc["columns_at_fault"] == list(result.columns_at_fault)
        assert len(doc["findings"]) == len(result.findings)
        assert {f["kind"] for f in doc["findings"]} <= {"hard", "soft", "drift"}
        assert all(f["action"] and f["message"] for f in doc["findings"])
        assert doc["history"] == result.history and doc["rows"] == 2000
    json.dumps(warned.to_dict(), allow_nan=False)  # no hard finding: strict JSON too


# Calibration: how far a statistic may move is learned from history.


def _wide(seed: int, columns: int, rows: int = 500) -> pa.Table:
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(columns):
        if i % 2:
            data[f"c{i}"] = rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1])
        else:
            data[f"x{i}"] = rng.normal(i, 1 + i, rows)
    return pa.table(data)


@pytest.mark.parametrize("columns", [5, 50])
def test_many_columns_do_not_alarm_more_often_than_few(sqlite_client: Client, columns: int) -> None:
    history = [_profile(_wide(seed, columns)) for seed in range(12)]

    results = [_check(sqlite_client, _wide(1000 + i, columns), history) for i in range(20)]

    alarms = [f.message for r in results for f in r.findings]
    assert sum(r.alarm for r in results) <= 1, alarms
    assert all(r.tests >= 4 * columns for r in results)  # each column is tested, not skipped


def test_one_changed_column_of_fifty_is_still_caught(sqlite_client: Client) -> None:
    history = [_profile(_wide(seed, 50)) for seed in range(12)]
    batch = _wide(2000, 50)
    batch = batch.set_column(
        batch.column_names.index("x20"), "x20", pc.multiply(batch.column("x20"), 100)
    )

    result = _check(sqlite_client, batch, history)

    assert result.columns_at_fault == ("x20",)


def test_a_short_history_says_so_and_widens_its_bounds(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = _trips(112, shift=3.0)

    long = _check(sqlite_client, batch, history)
    short = {n: _check(sqlite_client, batch, history[-n:]) for n in (2, 3)}

    def width(result: ValidationResult) -> float:
        (finding,) = [f for f in result.findings if (f.column, f.statistic) == ("distance", "mean")]
        low, high = finding.expected
        return float(high - low)

    assert ("drift", "distance", "mean") in _found(long)
    assert long.notes == ()
    for n, result in short.items():
        assert result.history_size == n
        (note,) = result.notes
        assert note.startswith(f"Short history ({n} batches")
        assert width(result) > 1.5 * width(long)  # widened, yet a gross shift still shows


def test_one_reference_profile_works_and_says_so(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    reference = history[0]

    clean = _check(sqlite_client, _trips(113), reference)
    changed = _check(sqlite_client, _trips(114).assign(fare=lambda f: f["fare"] * 100), reference)

    assert not clean.alarm, [f.message for f in clean.findings]
    assert clean.history_size == 1
    (note,) = clean.notes
    assert note.startswith("One reference")
    assert changed.columns_at_fault == ("fare",)
    assert ("drift", "fare", "mean") in _found(changed)


def test_a_reference_table_is_one_reference(sqlite_client: Client) -> None:
    reference = _trips(115)

    clean = _check(sqlite_client, _trips(116), reference)
    changed = _check(sqlite_client, _trips(117).drop(columns="city"), reference)

    assert not clean.alarm and clean.history_size == 1
    assert clean.notes[0].startswith("One reference")
    assert _found(changed) == {("hard", "city", "missing_column")}


# Bad input: findings a person can act on, never a crash.


def test_an_empty_batch_is_hard_not_a_crash(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    result = _check(sqlite_client, _trips(116).iloc[:0], history)

    assert result.blocked and result.rows == 0
    finding = _one(result, None, "row_count")
    assert finding.kind is FindingKind.HARD and "empty" in finding.message


def test_a_batch_with_no_column_in_common_is_hard(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = pd.DataFrame({"user": ["a", "b", "c"], "clicks": [1, 2, 3]})

    result = _check(sqlite_client, batch, history)

    assert result.blocked
    finding = _one(result, None, "columns")
    assert finding.kind is FindingKind.HARD
    assert "no column in common" in finding.message
    assert finding.observed == ["clicks", "user"]


def test_a_column_of_mixed_types_is_a_hard_type_finding(
    sqlite_client: Client, history: list[TableProfile]
) -> None:
    batch = _trips(117)
    city = batch["city"].astype(object)
    city.iloc[:50] = 7
    batch["city"] = city

    result = _check(sqlite_client, batch, history)

    assert result.blocked
    assert [(f.kind.value, f.column, f.statistic) for f in result.of_kind("hard")] == [
        ("hard", "city", "type")
    ]
    message = _one(result, "city", "type").message
    assert "'city'" in message and "int (50)" in message and "str (1950)" in message


@pytest.mark.parametrize("empty", [None, np.nan])
def test_an_all_null_column_is_a_soft_null_share_not_a_type_change(
    sqlite_client: Client, history: list[TableProfile], empty: object
) -> None:
    batch = _trips(118).assign(distance=empty)

    result = _check(sqlite_client, batch, history)

    assert not result.blocked
    assert _found(result) == {("soft", "distance", "null_share")}
    assert _one(result, "distance", "null_share").observed == 1.0


def test_ten_thousand_categories_validate(sqlite_client: Client) -> None:
    def batch(seed: int) -> pa.Table:
        rng = np.random.default_rng(seed)
        users = [f"user-{seed}-{i}" for i in range(10_000)]
        return pa.table({"user": users, "clicks": rng.poisson(3.0, 10_000)})

    history = [_profile(batch(seed)) for seed in range(5)]
    result = _check(sqlite_client, batch(5), history)

    assert not result.alarm, [f.message for f in result.findings]
    assert result.rows == 10_000 and result.tests > 0


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.txt", "just some words\n"), ("trips.parquet", "this is text, not Parquet\n")],
)
def test_a_file_that_is_not_a_table_is_a_data_read_error(
    sqlite_client: Client, history: list[TableProfile], tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)

    with pytest.raises(DataReadError, match=name):
        _check(sqlite_client, str(path), history)
