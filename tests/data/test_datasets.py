"""Logging dataset versions: every accepted input, content addressing, summaries,
keys and the errors a user sees for bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import prodml
from prodml.client import Client
from prodml.domain.dataset import DatasetKind
from prodml.errors import DataReadError, InvalidInputError, NotFoundError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "fare": [10.5, None, 30.0, 12.5],
            "city": ["Oslo", "Lima", "Oslo", None],
        }
    )


def _blob_count(client: Client) -> int:
    """Blobs other than profiles (every table version also stores its profile once)."""
    profiles = {client.metadata.profile_blob(v.id) for v in prodml.list_datasets(client=client)}
    return sum(1 for blob in client.artifacts.list_blobs() if blob.digest not in profiles)


def test_same_rows_from_every_table_source_are_one_version_stored_once(
    client: Client, tmp_path: Path
) -> None:
    frame = _frame().fillna({"city": "Rome"})  # CSV cannot tell an empty string from null
    csv = tmp_path / "flights.csv"
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "flights.parquet"
    pq.write_table(pa.Table.from_pandas(frame), parquet)

    sources = [
        frame,
        pl.from_pandas(frame),
        pa.Table.from_pandas(frame, preserve_index=False),
        str(csv),
        parquet,
    ]
    versions = [prodml.log_dataset("flights", source, client=client) for source in sources]

    assert {v.id for v in versions} == {versions[0].id}
    assert [v.version for v in versions] == [1] * len(sources)
    assert len(prodml.list_datasets("flights", client=client)) == 1
    assert _blob_count(client) == 1


def test_different_content_is_the_next_version(client: Client) -> None:
    first = prodml.log_dataset("flights", _frame(), client=client)
    changed = _frame().assign(fare=[10.5, None, 31.0, 12.5])
    second = prodml.log_dataset("flights", changed, client=client)
    again = prodml.log_dataset("flights", _frame(), client=client)

    assert (first.version, second.version) == (1, 2)
    assert second.id != first.id
    assert again.version == 1 and again.id == first.id
    assert [v.ref for v in prodml.list_datasets("flights", client=client)] == [
        "flights@1",
        "flights@2",
    ]
    assert prodml.get_dataset("flights", client=client).version == 2
    assert prodml.get_dataset("flights@1", client=client).id == first.id
    assert prodml.get_dataset(f"flights@{second.id[:10]}", client=client).version == 2


def test_the_same_content_under_another_name_shares_the_blob(client: Client) -> None:
    one = prodml.log_dataset("train", _frame(), client=client)
    two = prodml.log_dataset("train-copy", _frame(), client=client)

    assert one.id == two.id
    assert (one.ref, two.ref) == ("train@1", "train-copy@1")
    assert _blob_count(client) == 1


def test_schema_and_column_summaries_are_captured(client: Client) -> None:
    version = prodml.log_dataset("flights", _frame(), key="id", client=client)

    assert version.kind is DatasetKind.TABLE
    assert version.num_rows == 4
    assert version.key == ("id",)
    assert version.author == "tester"
    assert version.schema["id"] == "int64"
    assert version.schema["fare"] == "double"
    assert "string" in version.schema["city"]
    stored = prodml.get_dataset("flights@1", client=client)
    columns = {c.name: c for c in stored.columns}
    fare, city, ids = columns["fare"], columns["city"], columns["id"]
    assert (fare.nulls, fare.distinct, fare.min, fare.max) == (1, 3, 10.5, 30.0)
    assert fare.mean == pytest.approx((10.5 + 30.0 + 12.5) / 3)
    assert (city.nulls, city.distinct, city.mean) == (1, 2, None)
    assert (city.min, city.max) == ("Lima", "Oslo")
    assert (ids.nulls, ids.distinct, ids.min, ids.max, ids.mean) == (0, 4, 1, 4, 2.5)
    assert stored.schema == version.schema


def test_load_table_round_trips_the_rows(client: Client) -> None:
    frame = _frame()
    version = prodml.log_dataset("flights", frame, client=client)

    by_ref = prodml.load_table("flights@1", client=client)
    by_version = prodml.load_table(version, client=client)

    assert by_ref.equals(by_version)
    assert by_ref.to_pydict() == pa.Table.from_pandas(frame, preserve_index=False).to_pydict()


def test_a_named_pandas_index_is_kept_as_a_column(client: Client) -> None:
    frame = _frame().set_index("id")
    prodml.log_dataset("flights", frame, key="id", client=client)

    assert prodml.load_table("flights", client=client).column("id").to_pylist() == [1, 2, 3, 4]


def test_a_folder_is_versioned_file_by_file(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "a.jpg").write_bytes(b"\xff\xd8cat")
    (folder / "labels.txt").write_text("cat\n")
    seen: list[tuple[int, int]] = []

    version = prodml.log_dataset(
        "images", folder, progress=lambda done, total: seen.append((done, total)), client=client
    )

    assert version.kind is DatasetKind.FILES
    assert (version.num_files, version.num_bytes, version.num_rows) == (2, 9, None)
    files = client.metadata.dataset_files(version.id)
    assert [f.path for f in files] == ["cats/a.jpg", "labels.txt"]
    assert prodml.read_file(version, "cats/a.jpg", client=client) == b"\xff\xd8cat"
    assert seen[-1] == (9, 9)
    assert prodml.log_dataset("images", folder, client=client).version == 1
    (folder / "labels.txt").write_text("cat\ndog\n")
    assert prodml.log_dataset("images", folder, client=client).version == 2


def test_a_single_non_table_file_is_one_file_version(client: Client, tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"a": 1}')

    version = prodml.log_dataset("notes", notes, client=client)

    assert version.kind is DatasetKind.FILES
    assert [f.path for f in client.metadata.dataset_files(version.id)] == ["notes.json"]
    with pytest.raises(InvalidInputError, match="not a table"):
        prodml.load_table("notes@1", client=client)


def test_key_naming_a_missing_column_is_refused(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="flight_no") as raised:
        prodml.log_dataset("flights", _frame(), key="flight_no", client=client)

    assert "id" in str(raised.value)
    assert prodml.list_datasets(client=client) == []


def test_non_unique_key_is_refused(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="city") as raised:
        prodml.log_dataset("flights", _frame().fillna({"city": "Oslo"}), key="city", client=client)

    assert "not unique" in str(raised.value)
    assert prodml.list_datasets(client=client) == []


def test_a_composite_key_unique_together_is_accepted(client: Client) -> None:
    frame = pd.DataFrame({"day": [1, 1, 2], "route": ["a", "b", "a"], "n": [5, 6, 7]})

    version = prodml.log_dataset("routes", frame, key=["day", "route"], client=client)

    assert version.key == ("day", "route")


def test_key_on_a_folder_is_refused(client: Client, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")

    with pytest.raises(InvalidInputError, match="key="):
        prodml.log_dataset("docs", tmp_path, key="id", client=client)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("corrupt.parquet", b"PAR1 this is not a parquet file"),
        ("ragged.csv", b"a,b\n1,2\n3\n"),
        ("empty.csv", b""),
    ],
)
def test_an_unreadable_table_file_names_its_path(
    sqlite_client: Client, tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DataReadError) as raised:
        prodml.log_dataset("broken", path, client=sqlite_client)

    assert str(path) in str(raised.value)
    assert prodml.list_datasets(client=sqlite_client) == []


def test_a_missing_path_names_it(sqlite_client: Client, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"

    with pytest.raises(DataReadError, match=r"nowhere\.csv"):
        prodml.log_dataset("flights", missing, client=sqlite_client)


def test_an_empty_folder_is_refused(sqlite_client: Client, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    with pytest.raises(InvalidInputError, match="no files") as raised:
        prodml.log_dataset("images", empty, client=sqlite_client)

    assert str(empty) in str(raised.value)
    assert prodml.list_datasets(client=sqlite_client) == []


@pytest.mark.parametrize("data", [[1, 2, 3], 42, None, b"raw bytes"])
def test_an_unsupported_type_names_the_accepted_ones(sqlite_client: Client, data: object) -> None:
    with pytest.raises(InvalidInputError) as raised:
        prodml.log_dataset("flights", data, client=sqlite_client)

    message = str(raised.value)
    assert type(data).__name__ in message
    for accepted in ("pandas", "polars", "pyarrow", "path"):
        assert accepted in message


def test_an_invalid_dataset_name_is_refused(sqlite_client: Client) -> None:
    with pytest.raises(InvalidInputError, match="flights@2"):
        prodml.log_dataset("flights@2", _frame(), client=sqlite_client)


def test_unknown_versions_say_how_to_list_datasets(client: Client) -> None:
    prodml.log_dataset("flights", _frame(), client=client)

    with pytest.raises(NotFoundError, match="prodml datasets list"):
        prodml.get_dataset("flights@7", client=client)
    with pytest.raises(NotFoundError, match="trains"):
        prodml.get_dataset("trains", client=client)


def test_a_broken_link_in_a_folder_names_the_link(sqlite_client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"jpg")
    (folder / "b.jpg").symlink_to(tmp_path / "gone.jpg")

    with pytest.raises(DataReadError, match="broken link") as raised:
        prodml.log_dataset("images", folder, client=sqlite_client)

    assert str(folder / "b.jpg") in str(raised.value)
    assert prodml.list_datasets(client=sqlite_client) == []


def test_a_named_pipe_is_refused_by_name_not_waited_on(
    sqlite_client: Client, tmp_path: Path
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"jpg")
    os.mkfifo(folder / "pipe")  # reading it would wait for a writer forever
    os.mkfifo(tmp_path / "alone")

    with pytest.raises(InvalidInputError, match="not a regular file") as raised:
        prodml.log_dataset("images", folder, client=sqlite_client)
    assert str(folder / "pipe") in str(raised.value)
    with pytest.raises(InvalidInputError, match="neither a file nor a folder"):
        prodml.log_dataset("alone", tmp_path / "alone", client=sqlite_client)

    assert prodml.list_datasets(client=sqlite_client) == []


def test_the_source_of_a_file_is_its_absolute_path(
    sqlite_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fares.csv").write_text("id,fare\n1,2.5\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a")
    monkeypatch.chdir(tmp_path)

    table = prodml.log_dataset("fares", "fares.csv", client=sqlite_client)
    files = prodml.log_dataset("docs", Path("docs"), client=sqlite_client)

    assert table.source == str(tmp_path / "fares.csv")
    assert files.source == str(tmp_path / "docs")
    assert prodml.get_dataset("fares", client=sqlite_client).source == table.source


def test_a_csv_keeps_words_like_na_as_values(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code,flag\nA1,NA\nB2,\n")
    version = prodml.log_dataset("codes", path, client=client)
    rows = prodml.load_table(version, client=client).to_pylist()
    assert rows == [{"code": "A1", "flag": "NA"}, {"code": "B2", "flag": None}]


def test_columns_with_one_name_are_refused_naming_it(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("a,a\n1,2\n")
    with pytest.raises(InvalidInputError, match=r"\['a'\]"):
        prodml.log_dataset("twice", path, client=client)
    assert prodml.list_datasets(client=client) == []


def test_linked_folders_are_followed_once(client: Client, tmp_path: Path) -> None:
    data, other = tmp_path / "data", tmp_path / "other"
    (data / "sub").mkdir(parents=True)
    other.mkdir()
    (data / "a.txt").write_text("a")
    (data / "sub" / "s.txt").write_text("s")
    (other / "o.txt").write_text("o")
    (data / "linked").symlink_to(other)
    (data / "sub" / "loop").symlink_to(data)  # a cycle must not be walked forever
    version = prodml.log_dataset("linked", data, client=client)
    paths = [f.path for f in client.metadata.dataset_files(version.id)]
    assert paths == ["a.txt", "linked/o.txt", "sub/s.txt"]
