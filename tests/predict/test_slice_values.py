"""Slices cut by the values of a column cover exactly the rows holding each value,
whatever the value or the column's name: text with quotes and SQL in it, NaN and
infinities (a validation set grown from production failures holds what requests
sent)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from prodml.predict.slices import by_value, masks, where_of

NAME = "kind\"; COPY (SELECT 42) TO '/tmp/written.csv'; --"
KINDS = ["a'b", "x'; DROP TABLE rows; --", 'q"q', "plain"]
CODES = [1.0, math.nan, math.inf, -math.inf, 2.5]


def _table() -> pa.Table:
    rows = 60
    return pa.table(
        {
            NAME: [KINDS[i % len(KINDS)] for i in range(rows)],
            "code": [CODES[i % len(CODES)] for i in range(rows)],
        }
    )


def _rows_with(table: pa.Table, column: str, value: object) -> np.ndarray:
    values = table.column(column).to_pylist()
    if isinstance(value, float) and math.isnan(value):
        return np.array([isinstance(v, float) and math.isnan(v) for v in values])
    return np.array([v == value for v in values])


def test_a_slice_per_value_covers_exactly_its_rows_for_hostile_and_not_a_number_values() -> None:
    table = _table()
    slices = {
        **by_value(table, NAME, 10, "failures@1"),
        **by_value(table, "code", 10, "failures@1"),
    }

    found = masks(table, slices, "failures@1")

    expected = {f"{NAME}={kind}": _rows_with(table, NAME, kind) for kind in KINDS}
    expected |= {f"code={code}": _rows_with(table, "code", code) for code in CODES}
    assert set(found) == set(expected)
    for name, rows in expected.items():
        assert np.array_equal(found[name], rows), name


def test_a_slice_written_as_a_mapping_matches_hostile_text_and_infinity() -> None:
    table = _table()
    where = where_of({NAME: "x'; DROP TABLE rows; --", "code": [math.inf, math.nan]}, "s.where")

    found = masks(table, {"picked": where}, "failures@1")

    kind = _rows_with(table, NAME, "x'; DROP TABLE rows; --")
    code = _rows_with(table, "code", math.inf) | _rows_with(table, "code", math.nan)
    assert found["picked"].sum() > 0
    assert np.array_equal(found["picked"], kind & code)
