"""Inputs a demanding user sends: other batch sizes, other encodings of the same
types, hand-edited checks, odd columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

import prodml
from prodml.errors import InvalidInputError


def _batch(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "c": rng.choice(list("abc"), rows),
            "b": rng.random(rows) > 0.5,
            "i": rng.integers(0, 100, rows),
        }
    )


@pytest.fixture(scope="module")
def history() -> list[object]:
    return [prodml.profile(_batch(1000, seed)) for seed in range(20)]


@pytest.mark.parametrize("rows", [20, 200, 20_000])
def test_batches_smaller_or_larger_than_history_show_no_drift(
    history: list[object], rows: int
) -> None:
    results = [prodml.validate(_batch(rows, 500 + s), against=history) for s in range(5)]

    kinds = {(f.kind.value, f.statistic) for r in results for f in r.findings}
    assert kinds <= {("soft", "row_count")}  # only the size itself is unusual


def test_a_boolean_column_that_turns_constant_is_caught(history: list[object]) -> None:
    result = prodml.validate(_batch(1000, 900).assign(b=True), against=history)

    assert "b" in result.columns_at_fault


def test_a_categorical_column_is_the_same_type_as_text() -> None:
    past = [pd.DataFrame({"c": list("abc") * 100}) for _ in range(5)]
    batch = pd.DataFrame({"c": pd.Categorical(list("abc") * 100)})

    result = prodml.validate(batch, against=past)

    assert not result.blocked
    assert not result.alarm


def test_a_csv_export_of_text_columns_is_read_as_text(tmp_path: Path) -> None:
    past = [pd.DataFrame({"day": [f"2024-01-0{d}" for d in range(1, 6)] * 10, "v": range(50)})]
    path = tmp_path / "batch.csv"
    pd.DataFrame({"day": ["2024-02-01"] * 50, "v": range(50)}).to_csv(path, index=False)

    result = prodml.validate(str(path), against=past * 3)

    assert not result.blocked, [f.message for f in result.findings]


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["columns"]["x"]["null_share"].update(max="5%"),
        lambda c: c["columns"].update(x="not a mapping"),
        lambda c: c.update(table=[1]),
    ],
)
def test_a_hand_edited_check_of_the_wrong_shape_is_refused_clearly(
    history: list[object], tmp_path: Path, edit: object
) -> None:
    path = tmp_path / "checks.yaml"
    prodml.infer_checks(history, path=path)
    document = yaml.safe_load(path.read_text())
    edit(document)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(document))

    with pytest.raises(InvalidInputError, match="checks"):
        prodml.validate(_batch(1000, 1), against=history, checks=path)


def test_duplicate_column_names_are_refused_by_name() -> None:
    frame = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])

    with pytest.raises(InvalidInputError, match="'a'"):
        prodml.profile(frame)


def test_odd_numeric_columns_profile_and_validate() -> None:
    odd = pd.DataFrame({"inf": [np.inf] * 50, "half": np.arange(50, dtype=np.float16)})
    normal = pd.DataFrame({"inf": np.random.default_rng(0).random(50), "half": np.arange(50.0)})

    profile = prodml.profile(odd)
    result = prodml.validate(odd, against=[normal] * 3)

    assert not isinstance(profile, dict)
    assert profile.columns["half"].mean == pytest.approx(24.5)
    assert profile.columns["inf"].kll is None  # nothing finite to sketch
    assert not result.blocked


def test_a_reference_table_can_be_split_by_partition() -> None:
    table = pa.table({"day": np.repeat(np.arange(10), 200), "v": np.tile(np.arange(200.0), 10)})

    result = prodml.validate(table.filter(pa.compute.equal(table["day"], 3)), table, "day")

    assert result.history_size == 10
    assert "partitions" in result.history
    assert not result.alarm, [f.message for f in result.findings]


def test_an_empty_reference_is_said_so() -> None:
    empty = pd.DataFrame({"x": pd.Series([], dtype=float)})

    result = prodml.validate(pd.DataFrame({"x": [1.0, 2.0]}), against=[empty])

    assert any("no rows" in note for note in result.notes)
    assert result.history_size == 0
