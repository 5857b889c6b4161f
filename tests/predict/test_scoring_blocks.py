"""Batch scoring calls the model on blocks of rows that grow with the table: a large
table costs few calls (one per block, not one per thousand rows), a block the model
raises on is answered piece by piece with only its failing rows left out, and the
answers do not depend on how the table was cut into parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodml.predict import blocks as parts


class Counting:
    """A model's ``predict``: the sum of a row's values, raising on any NaN in the call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        values = frame.to_numpy()
        if np.isnan(values).any():
            raise ValueError("Input X contains NaN.")
        answers: np.ndarray = values.sum(axis=1)
        return answers


def frame(rows: int, holes: np.ndarray | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    table = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    if holes is not None:
        table.loc[holes, "a"] = np.nan
    return table


@pytest.mark.parametrize(
    ("rows", "block"),
    [(0, 1024), (3_000, 1024), (131_071, 1024), (131_072, 2048), (2_000_000, 16_384),
     (10_000_000, 65_536), (10**9, 65_536)],
)  # fmt: skip
def test_blocks_grow_with_the_table_from_one_piece_to_the_largest(rows: int, block: int) -> None:
    assert parts.block_rows(rows) == block


def test_a_clean_large_table_is_answered_in_one_call_per_block() -> None:
    rows = 300_000
    model = Counting()
    block = parts.block_rows(rows)
    outputs, failed, error = parts.blocked(model, frame(rows), rows, block)
    assert block == 4096
    assert model.calls == -(-rows // block)  # 74 calls, not one per 1,024 rows (293)
    assert not failed.any() and error is None
    np.testing.assert_array_equal(outputs, frame(rows).to_numpy().sum(axis=1))


def test_rows_a_large_block_raises_on_are_left_out_and_no_others() -> None:
    rows = 300_000
    holes = np.flatnonzero(np.random.default_rng(4).random(rows) < 0.001)
    model = Counting()
    outputs, failed, error = parts.blocked(model, frame(rows, holes), rows, parts.block_rows(rows))
    np.testing.assert_array_equal(np.flatnonzero(failed), holes)
    assert error == "ValueError: Input X contains NaN."
    good = ~failed
    np.testing.assert_array_equal(outputs[good], frame(rows).to_numpy().sum(axis=1)[good])


@pytest.mark.parametrize("partitions", [2, 3, 7])
def test_parts_hold_whole_blocks_and_answer_as_one_part_does(partitions: int) -> None:
    rows = 300_000
    holes = np.flatnonzero(np.random.default_rng(9).random(rows) < 0.01)
    table = frame(rows, holes)
    block = parts.block_rows(rows)
    whole = parts.blocked(Counting(), table, rows, block)

    ranges = parts.aligned([(round(rows * i / partitions), round(rows * (i + 1) / partitions))
                            for i in range(partitions)], block)  # fmt: skip
    assert len(ranges) == partitions
    assert all(start % block == 0 for start, _ in ranges)
    answered = [parts.blocked(Counting(), table.iloc[a:b], b - a, block) for a, b in ranges]
    np.testing.assert_array_equal(np.concatenate([f for _, f, _ in answered]), whole[1])
    np.testing.assert_array_equal(np.concatenate([o for o, _, _ in answered]), whole[0])
