"""Diffs between dataset versions: schema, rows by key and by content,
per-column summaries and sets of files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import prodml
from prodml.client import Client
from prodml.domain.dataset import ColumnChange, DatasetDiff, SchemaChange
from prodml.errors import InvalidInputError


def _log(client: Client, columns: dict[str, list[object]], key: str | None = None) -> str:
    return prodml.log_dataset("trips", pa.table(columns), key=key, client=client).ref


def _changes(diff: DatasetDiff) -> dict[tuple[str, str], tuple[object, object]]:
    return {(c.column, c.statistic): (c.before, c.after) for c in diff.column_changes}


def test_identical_versions_give_an_empty_diff(client: Client) -> None:
    ref = _log(client, {"id": [1, 2], "x": [1.5, float("nan")], "s": ["a", None]})

    diff = prodml.diff_datasets(ref, ref, client=client)

    assert diff.is_empty
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (0, 0, 0)
    assert diff.schema_changes == () and diff.column_changes == ()


def test_rows_added_removed_and_changed_by_key(client: Client) -> None:
    before = _log(client, {"id": [1, 2, 3, 4], "fare": [10.0, 20.0, 30.0, 40.0]}, key="id")
    after = _log(client, {"id": [2, 3, 4, 5, 6], "fare": [20.0, 31.0, 40.0, 50.0, 60.0]}, key="id")

    diff = prodml.diff_datasets(before, after, client=client)

    assert diff.matched_by == "key id"
    assert (diff.rows_before, diff.rows_after) == (4, 5)
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (2, 1, 1)
    assert not diff.is_empty


def test_an_explicit_key_overrides_row_content(client: Client) -> None:
    before = _log(client, {"id": [1, 2], "fare": [10.0, 20.0]})
    after = _log(client, {"id": [1, 2], "fare": [10.0, 25.0]})

    by_content = prodml.diff_datasets(before, after, client=client)
    by_key = prodml.diff_datasets(before, after, key="id", client=client)

    assert by_content.matched_by == "row content"
    assert (by_content.rows_added, by_content.rows_removed, by_content.rows_changed) == (1, 1, 0)
    assert by_key.matched_by == "key id"
    assert (by_key.rows_added, by_key.rows_removed, by_key.rows_changed) == (0, 0, 1)


def test_a_key_both_versions_lack_is_refused(client: Client) -> None:
    before = _log(client, {"id": [1], "x": [1]})
    after = _log(client, {"id": [2], "x": [1]})

    with pytest.raises(InvalidInputError, match="'route'"):
        prodml.diff_datasets(before, after, key="route", client=client)


def test_rows_without_key_are_compared_with_duplicates_counted(client: Client) -> None:
    before = _log(client, {"a": [1, 1, 1, 2, 3], "b": ["x", "x", "x", "y", "z"]})
    after = _log(client, {"a": [1, 2, 2, 2, 4], "b": ["x", "y", "y", "y", "w"]})

    diff = prodml.diff_datasets(before, after, client=client)

    # EXCEPT ALL: two of three (1, x) gone, two more (2, y) arrived, (3, z) -> (4, w).
    assert diff.matched_by == "row content"
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (3, 3, 0)


def test_reordered_rows_are_no_change(client: Client) -> None:
    before = _log(client, {"a": [1, 2, 3], "b": ["x", "y", "z"]})
    after = _log(client, {"a": [3, 1, 2], "b": ["z", "x", "y"]})

    diff = prodml.diff_datasets(before, after, client=client)

    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (0, 0, 0)
    assert diff.column_changes == ()


def test_schema_changes_name_added_removed_and_retyped_columns(client: Client) -> None:
    before = _log(client, {"id": [1, 2], "fare": [10, 20], "old": ["a", "b"]}, key="id")
    after = _log(client, {"id": [1, 2], "fare": [10.0, 20.0], "new": [True, False]}, key="id")

    diff = prodml.diff_datasets(before, after, client=client)

    assert set(diff.schema_changes) == {
        SchemaChange("fare", "int64", "double"),
        SchemaChange("old", "large_string", None),
        SchemaChange("new", None, "bool"),
    }
    assert not diff.is_empty


def test_column_summary_changes_are_reported(client: Client) -> None:
    before = _log(client, {"id": [1, 2, 3], "fare": [10.0, 20.0, 30.0], "s": ["a", "b", "c"]})
    after = _log(client, {"id": [1, 2, 3], "fare": [10.0, None, 90.0], "s": ["a", "b", "c"]})

    changes = _changes(prodml.diff_datasets(before, after, client=client))

    assert changes[("fare", "nulls")] == (0, 1)
    assert changes[("fare", "max")] == (30.0, 90.0)
    assert changes[("fare", "mean")] == (20.0, 50.0)
    assert changes[("fare", "distinct")] == (3, 2)
    assert not any(column in ("id", "s") for column, _ in changes)


def test_infinite_and_nan_summaries_that_stay_equal_are_no_change(client: Client) -> None:
    before = _log(client, {"x": [1.0, float("inf"), float("nan")], "k": [1, 2, 3]})
    after = _log(client, {"x": [1.0, float("inf"), float("nan")], "k": [1, 2, 4]})

    diff = prodml.diff_datasets(before, after, client=client)

    assert {c.column for c in diff.column_changes} == {"k"}
    assert ColumnChange("k", "max", 3, 4) in diff.column_changes


def _folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_file_sets_diff_by_path(client: Client, tmp_path: Path) -> None:
    before = _folder(tmp_path / "v1", {"a.txt": "a", "b.txt": "b", "sub/c.txt": "c"})
    after = _folder(tmp_path / "v2", {"a.txt": "a", "b.txt": "B!", "d.txt": "d", "e.txt": "e"})
    first = prodml.log_dataset("docs", before, client=client)
    second = prodml.log_dataset("docs", after, client=client)

    diff = prodml.diff_datasets(first.ref, second.ref, client=client)

    assert diff.matched_by == "file path"
    assert (diff.rows_before, diff.rows_after) == (3, 4)
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (2, 1, 1)
    assert _changes(diff)[("(files)", "bytes")] == (3, 5)
    assert prodml.diff_datasets(second.ref, second.ref, client=client).is_empty


def test_a_table_cannot_be_diffed_with_files(client: Client, tmp_path: Path) -> None:
    table = _log(client, {"a": [1]})
    files = prodml.log_dataset("docs", _folder(tmp_path, {"a.txt": "a"}), client=client).ref

    with pytest.raises(InvalidInputError, match="two tables or two sets of files"):
        prodml.diff_datasets(table, files, client=client)


def test_a_column_widened_from_int_to_float_compares_by_value(client: Client) -> None:
    prodml.log_dataset("widen", pa.table({"id": [1, 2], "x": [1, 2]}), client=client)
    prodml.log_dataset("widen", pa.table({"id": [1, 2], "x": [1.0, 2.5]}), client=client)
    diff = prodml.diff_datasets("widen@1", "widen@2", key="id", client=client)
    assert diff.rows_changed == 1
    assert [(c.column, c.before, c.after) for c in diff.schema_changes] == [
        ("x", "int64", "double")
    ]


def test_a_key_that_is_not_unique_is_refused_by_diff(client: Client) -> None:
    prodml.log_dataset("dupkey", pa.table({"k": [1, 1, 2], "v": [1, 2, 3]}), client=client)
    prodml.log_dataset("dupkey", pa.table({"k": [1, 1, 2], "v": [1, 2, 4]}), client=client)
    with pytest.raises(InvalidInputError, match="not unique"):
        prodml.diff_datasets("dupkey@1", "dupkey@2", key="k", client=client)
