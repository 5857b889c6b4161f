"""Files of a dataset version come back byte for byte; small files share packs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import prodml
from prodml.client import Client
from prodml.data.files import PACK_BELOW
from prodml.errors import IntegrityError, InvalidInputError, NotFoundError


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_a_checkout_restores_every_file_of_a_version(client: Client, tmp_path: Path) -> None:
    files = {
        "a/one.txt": b"1",
        "a/b/two.bin": os.urandom(5000),
        "big.bin": os.urandom(PACK_BELOW + 10),
        "empty": b"",
    }
    version = prodml.log_dataset("mixed", _folder(tmp_path / "src", files), client=client)

    written = prodml.checkout(version, tmp_path / "out", client=client)

    assert len(written) == 4
    for name, data in files.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    stored = {entry.path: entry for entry in client.metadata.dataset_files(version.id)}
    assert stored["big.bin"].pack is None  # large files keep blobs of their own
    assert stored["a/one.txt"].pack == stored["a/b/two.bin"].pack is not None


def test_a_later_version_stores_only_the_files_that_changed(client: Client, tmp_path: Path) -> None:
    source = _folder(tmp_path / "src", {f"f{i}.txt": f"file {i}".encode() for i in range(50)})
    first = prodml.log_dataset("docs", source, client=client)
    (source / "f7.txt").write_bytes(b"changed")
    second = prodml.log_dataset("docs", source, client=client)

    before = {e.path: e for e in client.metadata.dataset_files(first.id)}
    after = {e.path: e for e in client.metadata.dataset_files(second.id)}
    assert second.version == 2
    assert after["f7.txt"].pack != before["f7.txt"].pack
    assert all(after[p] == before[p] for p in before if p != "f7.txt")
    assert prodml.read_file("docs@2", "f7.txt", client=client) == b"changed"
    assert prodml.read_file("docs@1", "f7.txt", client=client) == b"file 7"


def test_checkout_refuses_a_folder_that_is_not_empty(client: Client, tmp_path: Path) -> None:
    version = prodml.log_dataset("d", _folder(tmp_path / "src", {"x": b"x"}), client=client)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not an empty folder"):
        prodml.checkout(version, tmp_path / "out", client=client)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_reading_an_unknown_file_or_a_table_says_what_to_do(client: Client, tmp_path: Path) -> None:
    files = prodml.log_dataset("d", _folder(tmp_path / "src", {"x": b"x"}), client=client)
    with pytest.raises(NotFoundError, match="prodml datasets show d@1"):
        prodml.read_file(files, "y", client=client)
    table = prodml.log_dataset("t", {"a": [1]}, client=client)
    with pytest.raises(InvalidInputError, match="load_table"):
        prodml.checkout(table, tmp_path / "out", client=client)


def test_a_checkout_that_fails_leaves_nothing_behind(client: Client, tmp_path: Path) -> None:
    big = os.urandom(PACK_BELOW + 10)
    version = prodml.log_dataset(
        "d", _folder(tmp_path / "src", {"a.txt": b"a", "big.bin": big}), client=client
    )
    entry = next(e for e in client.metadata.dataset_files(version.id) if e.path == "big.bin")
    blob = Path(client.settings.artifact_url) / entry.digest[:2] / entry.digest[2:]
    blob.chmod(0o644)
    blob.write_bytes(b"x" * len(big))
    with pytest.raises(IntegrityError, match=r"big\.bin"):
        prodml.checkout(version, tmp_path / "out", client=client)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_names_that_differ_only_in_tabs_and_newlines_are_different_versions(
    client: Client, tmp_path: Path
) -> None:
    import blake3

    plain = prodml.log_dataset(
        "t", _folder(tmp_path / "one", {"a": b"A", "b": b"B"}), client=client
    )
    tricky = f"a\t{blake3.blake3(b'A').hexdigest()}\t1\nb"
    other = prodml.log_dataset("t", _folder(tmp_path / "two", {tricky: b"B"}), client=client)
    assert other.id != plain.id and other.version == 2
