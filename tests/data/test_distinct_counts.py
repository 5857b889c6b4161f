"""Exact distinct counts are Arrow's, whichever way they are counted: a hash table for
columns that repeat their values, a sort of the values' bits for columns of mostly
distinct values (floats by their bits: -0.0 and 0.0 two values, a NaN one per bit
pattern; nulls none)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from prodml.data import distinct
from prodml.data.sketches import profile_column
from prodml.data.tables import summarise

ROWS = 300_000  # past distinct.SORTED_FROM, so both ways are taken


def _columns() -> dict[str, pa.ChunkedArray]:
    rng = np.random.default_rng(11)
    floats = rng.random(ROWS)
    floats[rng.random(ROWS) < 0.01] = np.nan
    floats[:50] = -np.nan  # another NaN's bits
    floats[50:52] = np.array([0x7FF8000000000001, 0x7FF0000000000001], np.uint64).view(float)
    floats[52:60], floats[60:70] = 0.0, -0.0
    repeated = rng.choice([1.5, 2.5, np.nan, -0.0, 0.0], ROWS)
    ints = rng.integers(-(2**62), 2**62, ROWS)
    mask = rng.random(ROWS) < 0.05
    with np.errstate(invalid="ignore"):  # the NaNs' payloads do not fit a float32
        narrow = floats.astype(np.float32)
    return {
        "probabilities": pa.chunked_array([floats[: ROWS // 2], floats[ROWS // 2 :]]),
        "repeated floats": pa.chunked_array([repeated]),
        "float32": pa.chunked_array([pa.array(narrow, mask=mask)]),
        "ids with nulls": pa.chunked_array([pa.array(np.arange(ROWS), mask=mask)]),
        "wide ints": pa.chunked_array([pa.array(ints)]),
        "uint8": pa.chunked_array([pa.array(rng.integers(0, 256, ROWS).astype(np.uint8))]),
        "small": pa.chunked_array([pa.array([1.0, np.nan, None, -0.0, 0.0, 1.0])]),
        "empty": pa.chunked_array([pa.array([], pa.float64())]),
        "all null": pa.chunked_array([pa.array([None] * 10, pa.int64())]),
        "text": pa.chunked_array([pa.array([f"t{i % 977}" for i in range(ROWS)])]),
    }


@pytest.mark.parametrize("name", list(_columns()))
def test_a_count_is_arrows_count_distinct_of_the_valid_values(name: str) -> None:
    column = _columns()[name]

    expected = pc.count_distinct(column, mode="only_valid").as_py()
    assert distinct.count(column) == expected


def test_the_sorted_way_is_the_one_taken_for_mostly_distinct_numbers() -> None:
    columns = _columns()
    bits = distinct._bits(columns["probabilities"])
    assert bits is not None and distinct._mostly_distinct(bits)
    repeated = distinct._bits(columns["repeated floats"])
    assert repeated is not None and not distinct._mostly_distinct(repeated)


def test_the_distinct_numbers_a_sketch_hashes_are_every_value_once() -> None:
    rng = np.random.default_rng(5)
    for values in (rng.random(ROWS), rng.choice([1.0, 2.0, 3.0], ROWS), rng.random(10)):
        found = distinct.numbers(values)
        assert sorted(found.tolist()) == sorted(set(values.tolist()))


def test_summaries_and_profiles_count_a_column_of_probabilities_alike() -> None:
    rng = np.random.default_rng(9)
    values = np.round(rng.random(ROWS), 5)  # 100,001 possible values: repeats and many
    table = pa.table({"p": values})

    exact = len(set(values.tolist()))
    (summary,) = summarise(table)
    assert summary.distinct == exact
    estimate = profile_column("p", table.column("p")).distinct
    assert estimate == pytest.approx(exact, rel=0.05)


def test_parquet_dictionaries_are_left_out_for_mostly_distinct_numbers_only() -> None:
    rng = np.random.default_rng(3)
    table = pa.table(
        {
            "id": np.arange(ROWS),
            "probability": rng.random(ROWS),
            "delay": rng.integers(-20, 200, ROWS).astype(float),  # few values, as floats
            "carrier": rng.choice(["AA", "UA", "DL"], ROWS),
            "at": pa.array(np.arange(ROWS).astype("datetime64[s]")),
        }
    )
    assert distinct.dictionary_columns(table) == ["delay", "carrier"]
    assert distinct.dictionary_columns(table.slice(0, 1000)) == table.column_names  # small
    nested = table.append_column("tags", pa.array([[1]] * ROWS))
    assert distinct.dictionary_columns(nested) is True
