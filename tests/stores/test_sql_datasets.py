"""Dataset versions in the metadata store, on SQLite always and on PostgreSQL when
reachable: numbering, dedup by content, lookups and the files of folder datasets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from prodml.client import Client
from prodml.domain.dataset import ColumnSummary, DatasetKind, DatasetVersion, FileEntry
from prodml.errors import InvalidInputError, NotFoundError

NewDataset = Callable[..., DatasetVersion]


def test_dataset_versions_number_up_and_the_same_content_is_the_same_version(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    first, new_first = store.add_dataset_version(make_dataset("ages", "v1"), "b" * 64, [])
    second, new_second = store.add_dataset_version(make_dataset("ages", "v2"), "c" * 64, [])
    again, new_again = store.add_dataset_version(make_dataset("ages", "v1"), "b" * 64, [])
    elsewhere, _ = store.add_dataset_version(make_dataset("people", "v1"), "b" * 64, [])

    assert (first.version, new_first) == (1, True)
    assert (second.version, new_second) == (2, True)
    assert (again.version, again.id, new_again) == (1, first.id, False)
    assert elsewhere.version == 1
    assert [v.version for v in store.list_dataset_versions("ages")] == [1, 2]
    assert [v.ref for v in store.list_dataset_versions()] == ["ages@1", "ages@2", "people@1"]
    assert store.dataset_blob(second) == "c" * 64
    logged = [e for e in store.list_events() if e.action == "dataset.logged"]
    assert [e.details["version"] for e in logged] == [1, 2, 1]


def test_dataset_versions_are_found_by_number_latest_or_digest_prefix(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    first, _ = store.add_dataset_version(make_dataset("ages", "v1"), None, [])
    second, _ = store.add_dataset_version(make_dataset("ages", "v2"), None, [])

    assert store.get_dataset_version("ages", "1").id == first.id
    assert store.get_dataset_version("ages", "latest").id == second.id
    assert store.get_dataset_version("ages").id == second.id
    assert store.get_dataset_version("ages", second.id[:10].upper()).version == 2
    assert [v.ref for v in store.dataset_versions_by_digest(first.id[:8])] == ["ages@1"]
    stored = store.get_dataset_version("ages", "1")
    assert (stored.schema, stored.key, stored.source) == ({"age": "int64"}, ("age",), "ages.csv")
    assert stored.columns == (
        ColumnSummary(name="age", type="int64", nulls=0, distinct=3, min=1, max=3, mean=2.0),
    )
    with pytest.raises(NotFoundError) as missing:
        store.get_dataset_version("ages", "9")
    assert "ages@9" in str(missing.value) and "prodml datasets list" in str(missing.value)
    with pytest.raises(NotFoundError):
        store.get_dataset_version("nobody")


def test_an_ambiguous_digest_prefix_names_the_versions_it_matches(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    for content in ("v1", "v2"):
        digest = "abc" + make_dataset("ages", content).id[3:]
        store.add_dataset_version(replace(make_dataset("ages", content), id=digest), None, [])

    with pytest.raises(InvalidInputError) as raised:
        store.get_dataset_version("ages", "abc")

    assert "ages@1" in str(raised.value) and "ages@2" in str(raised.value)
    assert "give more characters" in str(raised.value)
    for wildcard in ("a_c", "%", "_"):
        with pytest.raises(NotFoundError):
            store.get_dataset_version("ages", wildcard)


def test_the_files_of_a_folder_dataset_are_kept_in_path_order(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    files = [
        FileEntry(path="b/2.txt", digest="2" * 64, size=2),
        FileEntry(path="a/1.txt", digest="1" * 64, size=1),
    ]
    version, _ = store.add_dataset_version(
        make_dataset("imgs", "files", DatasetKind.FILES), None, files
    )

    assert store.dataset_files(version.id) == sorted(files, key=lambda f: f.path)
    assert store.get_dataset_version("imgs").kind is DatasetKind.FILES
