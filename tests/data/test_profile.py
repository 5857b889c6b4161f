"""Table profiles: exact counts and moments, sketched distinct values and quantiles,
partitions that merge into the profile of the whole, and files that are not tables."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import prodml
from prodml.data.profile import TableProfile
from prodml.data.sketches import EXTREMES
from prodml.errors import DataReadError, InvalidInputError

CITIES = ["Oslo", "Lima", "Rome", "Kyiv", "Pune"]
QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
RANK_ERROR = 0.02  # KLL with k=400 is within about 0.7% of rank; allow a margin


def _trips(seed: int, rows: int = 2000) -> pa.Table:
    rng = np.random.default_rng(seed)
    fare = rng.gamma(4.0, 25.0, rows)
    fare[rng.random(rows) < 0.03] = np.nan
    return pa.table(
        {
            "fare": pa.array(fare, mask=rng.random(rows) < 0.05),
            "passengers": pa.array(rng.poisson(2.0, rows)),
            "city": pa.array(rng.choice(CITIES, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1])),
            "day": pa.array(rng.integers(1, 8, rows)),
        }
    )


def _profile(data: object) -> TableProfile:
    made = prodml.profile(data)
    assert isinstance(made, TableProfile)
    return made


def _partitions(data: object, partition_by: str) -> dict[str, TableProfile]:
    made = prodml.profile(data, partition_by=partition_by)
    assert isinstance(made, dict)
    return made


def _valid(table: pa.Table, column: str) -> np.ndarray:
    values = np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=float)
    finite: np.ndarray = values[np.isfinite(values)]
    return finite


def _near_rank(values: np.ndarray, estimate: float, q: float) -> bool:
    """``estimate`` is a q-quantile of ``values`` within the sketch's rank error (ties
    make a value hold a range of ranks)."""
    below, up_to = float(np.mean(values < estimate)), float(np.mean(values <= estimate))
    return below - RANK_ERROR <= q <= up_to + RANK_ERROR


def test_nulls_and_nan_are_counted_apart() -> None:
    values = np.arange(1000, dtype=float)
    values[::10] = np.nan  # 100 NaN
    nulls = np.zeros(1000, dtype=bool)
    nulls[5::20] = True  # 50 nulls, none of them on a NaN
    table = pa.table({"x": pa.array(values, mask=nulls), "s": ["a", None] * 500})

    made = prodml.profile(table)

    assert isinstance(made, TableProfile)
    x, s = made.columns["x"], made.columns["s"]
    assert (made.rows, x.rows, x.nulls, x.nans, x.valid) == (1000, 1000, 50, 100, 850)
    assert x.null_share == pytest.approx(0.15)
    assert (s.nulls, s.nans, s.valid) == (500, 0, 500)
    assert (x.kind, s.kind) == ("numeric", "categorical")


def test_min_max_mean_and_std_are_exact() -> None:
    table = _trips(1)
    values = _valid(table, "fare")

    fare = _profile(table).columns["fare"]

    assert (fare.minimum, fare.maximum) == (values.min(), values.max())
    assert fare.mean == pytest.approx(values.mean(), rel=1e-12)
    assert fare.std == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert fare.valid == len(values)


def test_distinct_values_are_within_the_sketch_error() -> None:
    rng = np.random.default_rng(2)
    table = pa.table(
        {
            "id": pa.array(rng.permutation(np.repeat(np.arange(3000), 2))),
            "city": pa.array(rng.choice(CITIES, 6000)),
        }
    )

    made = _profile(table)

    assert made.columns["id"].distinct == pytest.approx(3000, rel=0.05)
    assert round(made.columns["city"].distinct) == 5
    expected = table.column("city").to_pandas().value_counts()
    assert made.columns["city"].counts() == {city: int(n) for city, n in expected.items()}


def test_a_column_of_unique_values_never_shows_more_distinct_values_than_it_has() -> None:
    for rows in (1000, 5000, 20000):  # HLL's estimates here: 1,011, 5,032, 20,167
        ids = pa.array(np.arange(rows), mask=np.arange(rows) % 10 == 0)
        made = _profile(pa.table({"id": ids, "copy": pa.array(np.arange(rows))}))

        assert made.columns["copy"].distinct == rows
        assert made.columns["id"].distinct <= rows - rows // 10
        assert made.columns["id"].summary()["distinct"] <= rows - rows // 10


def test_quantiles_are_within_the_sketch_error() -> None:
    table = _trips(3, rows=20_000)
    values = _valid(table, "fare")

    fare = _profile(table).columns["fare"]

    for q in QUANTILES:
        assert _near_rank(values, fare.kll.get_quantile(q), q), q
    assert _near_rank(values, fare.summary()["median"], 0.5)


def test_partitions_merge_into_the_profile_of_the_whole() -> None:
    table = _trips(4, rows=6000)
    whole = _profile(table)
    parts = _partitions(table, "city")
    assert len(parts) == 5

    merged = functools.reduce(TableProfile.merge, parts.values())

    assert (merged.rows, merged.duplicate_rows) == (whole.rows, whole.duplicate_rows)
    assert whole.duplicate_rows > 0  # rows with null fares repeat: the check is not vacuous
    for name, expected in whole.columns.items():
        got = merged.columns[name]
        assert (got.rows, got.nulls, got.nans, got.valid) == (
            expected.rows,
            expected.nulls,
            expected.nans,
            expected.valid,
        ), name
        assert (got.minimum, got.maximum) == (expected.minimum, expected.maximum), name
        assert got.distinct == pytest.approx(expected.distinct, rel=0.03), name
    for name in ("fare", "passengers", "day"):
        got, expected = merged.columns[name], whole.columns[name]
        assert got.mean == pytest.approx(expected.mean, rel=1e-12), name
        assert got.std == pytest.approx(expected.std, rel=1e-9), name
        values = _valid(table, name)
        for q in QUANTILES:
            assert _near_rank(values, got.kll.get_quantile(q), q), (name, q)
    assert merged.columns["city"].counts() == whole.columns["city"].counts()


def test_the_smallest_and_largest_values_are_kept_exactly_through_merges_and_bytes() -> None:
    table = _trips(10, rows=200_000)  # long enough to find its ends through a sample
    whole = _profile(table)
    parts = _partitions(table, "city")

    merged = TableProfile.from_bytes(
        functools.reduce(TableProfile.merge, parts.values()).to_bytes()
    )

    for name in ("fare", "passengers", "day"):
        ordered = np.sort(_valid(table, name))
        for profile in (whole, merged):
            column = profile.columns[name]
            assert column.lowest is not None and column.highest is not None
            assert np.array_equal(column.lowest, ordered[:EXTREMES]), name
            assert np.array_equal(column.highest, ordered[-EXTREMES:]), name


def test_a_column_with_fewer_values_than_its_ends_keeps_them_all() -> None:
    column = _profile(pa.table({"x": [3.0, None, 1.0, np.inf, 2.0]})).columns["x"]

    assert column.lowest is not None and column.highest is not None
    assert column.lowest.tolist() == column.highest.tolist() == [1.0, 2.0, 3.0, np.inf]


def test_duplicates_that_partitions_share_are_counted_once_merged() -> None:
    rng = np.random.default_rng(5)
    rows = pa.table({"a": pa.array(rng.permutation(1000)), "b": pa.array(np.arange(1000) % 7)})
    table = pa.concat_tables([rows, rows.slice(0, 300)])  # 300 rows seen twice
    first = _profile(table.slice(0, 1000))
    second = _profile(table.slice(1000))
    assert (first.duplicate_rows, second.duplicate_rows) == (0, 0)

    merged = first.merge(second)

    assert merged.duplicate_rows == _profile(table).duplicate_rows == 300
    assert merged.duplicate_share == pytest.approx(300 / 1300)


def test_duplicates_within_partitions_add_up_when_not_shared() -> None:
    rng = np.random.default_rng(6)
    rows = pa.table({"a": pa.array(rng.permutation(1000)), "b": pa.array(np.arange(1000) % 7)})
    left = pa.concat_tables([rows.slice(0, 500), rows.slice(0, 100)])
    right = pa.concat_tables([rows.slice(500), rows.slice(500, 50), rows.slice(500, 50)])

    merged = _profile(left).merge(_profile(right))

    assert merged.duplicate_rows == 100 + 100
    assert merged.duplicate_rows == _profile(pa.concat_tables([left, right])).duplicate_rows


def test_a_column_missing_from_one_partition_counts_as_null_there() -> None:
    first = _profile(pa.table({"x": [1.0, 2.0], "y": ["a", "b"]}))
    second = _profile(pa.table({"x": [3.0, 4.0, 5.0]}))

    merged = first.merge(second)

    assert (merged.rows, merged.columns["y"].rows, merged.columns["y"].nulls) == (5, 5, 3)
    assert merged.columns["x"].mean == pytest.approx(3.0)


def test_a_profile_survives_bytes() -> None:
    original = _profile(_trips(7))
    original.label = "trips@7"

    restored = TableProfile.from_bytes(original.to_bytes())

    assert restored.to_summary() == original.to_summary()
    assert (restored.label, restored.rows) == ("trips@7", 2000)
    assert restored.duplicate_rows == original.duplicate_rows > 0
    assert np.array_equal(restored.row_hashes, original.row_hashes)
    for name, column in original.columns.items():
        again = restored.columns[name]
        assert (again.types, again.m2) == (column.types, column.m2)
        assert again.distinct == column.distinct
        assert again.counts() == column.counts()
        if column.kll is not None:
            assert again.kll.get_quantiles(list(QUANTILES)) == column.kll.get_quantiles(
                list(QUANTILES)
            )
    other = _profile(_trips(8))
    assert restored.merge(other).to_summary()["rows"] == 4000
    assert restored.merge(other).columns["fare"].mean == pytest.approx(
        original.merge(other).columns["fare"].mean, rel=1e-12
    )


def test_an_empty_table_profiles_and_survives_bytes() -> None:
    empty = _profile(_trips(9).slice(0, 0))

    restored = TableProfile.from_bytes(empty.to_bytes())

    assert (restored.rows, restored.duplicate_rows, restored.duplicate_share) == (0, 0, 0.0)
    assert list(restored.columns) == ["fare", "passengers", "city", "day"]


def test_partition_by_gives_one_profile_per_value_in_order() -> None:
    frame = pd.DataFrame({"k": ["b", None, "a", "b", "a", "a"], "v": [1, 2, 3, 4, 5, 6]})

    parts = _partitions(frame, "k")

    assert list(parts) == ["k=a", "k=b", "k=None"]
    assert [p.rows for p in parts.values()] == [3, 2, 1]
    assert parts["k=a"].columns["v"].mean == pytest.approx(14 / 3)
    assert parts["k=b"].label == "k=b"


def test_partitions_by_a_float_column_with_nan_keep_every_row() -> None:
    table = pa.table({"k": [1.0, float("nan"), 2.0, None, float("nan")], "v": [1, 2, 3, 4, 5]})

    parts = _partitions(table, "k")

    assert sum(p.rows for p in parts.values()) == 5


def test_partition_by_a_missing_column_names_it() -> None:
    with pytest.raises(InvalidInputError) as raised:
        _partitions(_trips(10), "daay")

    message = str(raised.value)
    assert "'daay'" in message
    assert "fare, passengers, city, day" in message


def test_a_column_of_mixed_types_is_profiled_with_its_types() -> None:
    frame = pd.DataFrame({"code": pd.Series([1, "A7", 2, None, "B1", 3], dtype=object)})

    code = _profile(frame).columns["code"]

    assert code.type == "mixed"
    assert code.types == {"int": 3, "str": 2}
    assert (code.rows, code.nulls) == (6, 1)


def test_ten_thousand_categories_profile() -> None:
    rng = np.random.default_rng(11)
    ids = pa.array([f"user-{i}" for i in rng.permutation(10_000)])

    made = _profile(pa.table({"user": ids, "n": pa.array(rng.integers(0, 9, 10_000))}))

    user = made.columns["user"]
    assert user.distinct == pytest.approx(10_000, rel=0.03)
    assert (user.rows, user.nulls, made.duplicate_rows) == (10_000, 0, 0)
    assert (user.minimum, user.maximum) == ("user-0", "user-9999")


def test_table_files_profile_like_the_table(tmp_path: Path) -> None:
    table = _trips(12)
    path = tmp_path / "trips.parquet"
    pq.write_table(table, path)

    from_file = _profile(path).to_summary()
    from_memory = _profile(table).to_summary()

    medians = [c.pop("median") for c in from_file["columns"]]  # KLL compacts at random
    assert _near_rank(_valid(table, "fare"), medians[0], 0.5)
    for column in from_memory["columns"]:
        column.pop("median")
    assert from_file == from_memory


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.txt", "just some words\n", "is not a table file"),
        ("trips.parquet", "this is text, not Parquet\n", "Cannot read"),
        ("trips.csv", None, "No file at"),
    ],
)
def test_a_file_that_is_not_a_table_is_a_clear_error(
    tmp_path: Path, name: str, content: str | None, says: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)

    with pytest.raises(DataReadError) as raised:
        _profile(path)

    message = str(raised.value)
    assert says in message and name in message
    assert "\n" not in message
