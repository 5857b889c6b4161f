"""Number columns summarised from parts: the distinct values each part keeps join into
the count one pass over the whole column makes, and the summary is ``summarise``'s."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from prodml.data import distinct_values, tables


def _awkward_floats(rows: int) -> pa.Array:
    """Repeats, -0.0 beside 0.0, NaNs of two bit patterns, infinities and nulls."""
    rng = np.random.default_rng(9)
    values = np.round(rng.normal(size=rows), 2)
    values[::50] = 0.0
    values[1::50] = -0.0
    values[2::70] = np.nan
    values[3::70] = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), np.float64)[0]
    values[4::90] = np.inf
    return pa.array(values, mask=rng.random(rows) < 0.05)


@pytest.mark.parametrize(
    "column",
    [
        _awkward_floats(20_000),
        pa.array(np.random.default_rng(1).integers(-50, 50, 20_000)),
        pa.array(np.arange(20_000, dtype=np.uint64) * 7919 % 4001),
        pa.array(np.random.default_rng(2).random(20_000).astype(np.float32)),
        pa.array([None, None, None], pa.float64()),
    ],
    ids=["floats", "ints", "uint64", "float32", "all-null"],
)
def test_parts_count_and_summarise_as_one_pass_over_the_whole(column: pa.Array) -> None:
    whole = pa.chunked_array([column])
    (expected,) = tables.summarise(pa.table({"c": whole}))

    for cuts in ([], [1], [3, 4_000, 4_001, 15_000]):
        edges = [0, *[c for c in cuts if c < len(column)], len(column)]
        pieces = [column.slice(a, b - a) for a, b in itertools.pairwise(edges)]
        kept = [distinct_values.distinct_bits(piece) for piece in pieces]
        count = distinct_values.count_distinct(kept)
        made = distinct_values.summary("c", pa.chunked_array(pieces, column.type), count)

        assert repr(made) == repr(expected), cuts  # NaN means compare as text
