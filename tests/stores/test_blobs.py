"""The content-addressed blob store, on a local folder and on fsspec (``memory://``, and
``s3://`` on a real S3 API: moto's server):
dedup, atomic writes, verified reads, and errors that name the digest and its users."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import blake3
import pyarrow as pa
import pytest

import prodml
from prodml.client import Client
from prodml.data.datasets import log_dataset
from prodml.errors import DataReadError, IntegrityError, NotFoundError
from prodml.stores import blobs
from prodml.stores.blobs import SMALL, ArtifactStore, LocalArtifactStore
from prodml.stores.remote_blobs import FsspecArtifactStore


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalArtifactStore(tmp_path / "blobs")
        return
    url = f"memory://prodml-tests/{uuid.uuid4().hex}"
    if request.param == "s3":
        url = f"s3://{request.getfixturevalue('s3_bucket')}/blobs"
    remote = FsspecArtifactStore(url, tmp_path / "cache")
    yield remote
    if remote.fs.exists(remote.root):
        remote.fs.rm(remote.root, recursive=True)


def stored_files(store: ArtifactStore) -> list[str]:
    """Every file under the store's root, as a path relative to it."""
    if isinstance(store, LocalArtifactStore):
        found = [p for p in store.root.rglob("*") if p.is_file()]
        return sorted(p.relative_to(store.root).as_posix() for p in found)
    assert isinstance(store, FsspecArtifactStore)
    if not store.fs.exists(store.root):
        return []
    prefix = store.root.rstrip("/") + "/"
    return sorted(name.removeprefix(prefix) for name in store.fs.find(store.root))


def blob_file(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:]}"


def tamper(store: ArtifactStore, digest: str, data: bytes) -> None:
    if isinstance(store, LocalArtifactStore):
        path = store.root / blob_file(digest)
        os.chmod(path, 0o644)
        path.write_bytes(data)
    else:
        assert isinstance(store, FsspecArtifactStore)
        store.fs.pipe_file(f"{store.root.rstrip('/')}/{blob_file(digest)}", data)


def test_the_same_bytes_are_stored_once_under_their_blake3_digest(store: ArtifactStore) -> None:
    digest, size = store.put_bytes(b"hello blobs")
    again = store.put_bytes(b"hello blobs")

    assert again == (digest, size)
    assert (digest, size) == (blake3.blake3(b"hello blobs").hexdigest(), 11)
    assert stored_files(store) == [blob_file(digest)]
    assert store.read_bytes(digest) == b"hello blobs"
    assert store.local_path(digest).read_bytes() == b"hello blobs"
    assert [(b.digest, b.size) for b in store.list_blobs()] == [(digest, 11)]


def test_a_file_and_the_same_bytes_share_one_blob(store: ArtifactStore, tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_bytes(b"small file")
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(SMALL + 1000))
    copy = tmp_path / "large-copy.bin"
    copy.write_bytes(large.read_bytes())

    from_file = store.put_file(small)
    from_bytes = store.put_bytes(b"small file")
    big = store.put_file(large)
    big_again = store.put_file(copy)
    given = store.put_file(copy, big[0])

    assert from_file == from_bytes
    assert (
        big == big_again == given == (blake3.blake3(large.read_bytes()).hexdigest(), SMALL + 1000)
    )
    assert stored_files(store) == sorted([blob_file(from_file[0]), blob_file(big[0])])
    assert store.read_bytes(big[0]) == large.read_bytes()


def test_an_owned_file_is_stored_whole_and_only_an_owned_one_is_taken(
    store: ArtifactStore, tmp_path: Path
) -> None:
    data = os.urandom(SMALL + 5000)
    kept, owned, stored_twice = (tmp_path / name for name in ("kept", "owned", "again"))
    for path in (kept, owned, stored_twice):
        path.write_bytes(data)

    first = store.put_file(kept)
    digest, size = store.put_file(owned, owned=True)
    again = store.put_file(stored_twice, owned=True)  # stored already: nothing to take

    assert first == (digest, size) == again == (blake3.blake3(data).hexdigest(), len(data))
    assert store.read_bytes(digest) == data
    assert kept.read_bytes() == data  # a file not owned is copied, never taken
    assert stored_files(store) == [blob_file(digest)]


def test_an_owned_file_on_a_fresh_local_store_is_renamed_not_copied(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "blobs")
    owned = tmp_path / "blobs-scratch.bin"
    owned.write_bytes(os.urandom(SMALL + 10))
    inode = owned.stat().st_ino

    digest, _ = store.put_file(owned, owned=True)

    assert not owned.exists()
    assert store.local_path(digest).stat().st_ino == inode


def test_a_put_leaves_no_temporary_files_behind(store: ArtifactStore, tmp_path: Path) -> None:
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(SMALL + 1))

    digests = [store.put_bytes(b"one")[0], store.put_file(large)[0], store.put_bytes(b"")[0]]

    assert stored_files(store) == sorted(blob_file(d) for d in digests)


def test_local_blobs_are_read_only(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "blobs")
    digest, _ = store.put_bytes(b"keep me")

    assert (store.root / blob_file(digest)).stat().st_mode & 0o222 == 0


@pytest.mark.parametrize("size", [10, SMALL + 1])
def test_a_failed_local_put_leaves_nothing(tmp_path: Path, size: int) -> None:
    store = LocalArtifactStore(tmp_path / "blobs")
    data = os.urandom(size)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    digest = blake3.blake3(data).hexdigest()
    store.root.mkdir()
    (store.root / digest[:2]).write_text("a file where the blob folder should be")

    with pytest.raises(OSError):
        store.put_file(source)

    assert not store.exists(digest)
    assert stored_files(store) == [digest[:2]]


def test_a_file_that_changes_while_stored_is_refused_and_leaves_nothing(
    store: ArtifactStore, tmp_path: Path
) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(os.urandom(3 * SMALL))
    start_size = path.stat().st_size
    stop = threading.Event()

    def grow() -> None:
        with path.open("ab") as handle:
            while not stop.is_set():
                handle.write(b"more lines\n")
                handle.flush()
                time.sleep(0.0002)

    writer = threading.Thread(target=grow)
    writer.start()
    try:
        while path.stat().st_size == start_size:
            time.sleep(0.001)
        with pytest.raises(DataReadError) as raised:
            store.put_file(path)
    finally:
        stop.set()
        writer.join()

    assert str(path) in str(raised.value)
    assert stored_files(store) == []


def test_a_tampered_blob_is_refused_on_read_naming_its_digest(store: ArtifactStore) -> None:
    digest, _ = store.put_bytes(b"original bytes")
    tamper(store, digest, b"tampered bytes")

    with pytest.raises(IntegrityError) as on_read:
        store.read_bytes(digest)
    with pytest.raises(IntegrityError) as on_path:
        store.local_path(digest)

    assert digest in str(on_read.value) and digest in str(on_path.value)
    assert blake3.blake3(b"tampered bytes").hexdigest() in str(on_read.value)


def test_a_tampered_cached_copy_is_not_served(tmp_path: Path) -> None:
    store = FsspecArtifactStore(f"memory://prodml-tests/{uuid.uuid4().hex}", tmp_path / "cache")
    digest, _ = store.put_bytes(b"remote bytes")
    cached = store.local_path(digest)
    cached.write_bytes(b"edited in the cache")

    assert store.local_path(digest).read_bytes() == b"remote bytes"
    store.fs.rm(store.root, recursive=True)


def test_a_missing_blob_is_not_found_naming_its_digest(store: ArtifactStore) -> None:
    digest, _ = store.put_bytes(b"short-lived")
    store.delete(digest)
    store.delete(digest)

    with pytest.raises(NotFoundError) as on_read:
        store.read_bytes(digest)
    with pytest.raises(NotFoundError) as on_path:
        store.local_path(digest)

    assert digest in str(on_read.value) and digest in str(on_path.value)
    assert not store.exists(digest)
    assert list(store.list_blobs()) == []


def test_a_corrupt_dataset_blob_names_the_dataset_that_uses_it(client: Client) -> None:
    version = log_dataset(client, "d", pa.table({"x": [1, 2, 3]}))
    blob = client.metadata.dataset_blob(version)
    assert blob is not None
    tamper(client.artifacts, blob, b"not parquet any more")

    with pytest.raises(IntegrityError) as on_read:
        client.read_blob(blob)
    with pytest.raises(IntegrityError) as on_path:
        client.blob_path(blob)

    assert "dataset d@1" in str(on_read.value) and blob in str(on_read.value)
    assert "dataset d@1" in str(on_path.value)


def test_a_damaged_pack_of_small_files_names_the_dataset_that_uses_it(
    client: Client, tmp_path: Path
) -> None:
    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "tom.png").write_bytes(b"meow")
    (folder / "dog.png").write_bytes(b"woof")
    version = log_dataset(client, "imgs", folder)
    packs = {entry.pack for entry in client.metadata.dataset_files(version.id)}
    assert len(packs) == 1 and None not in packs
    pack = packs.pop()
    assert pack is not None
    tamper(client.artifacts, pack, b"meow" + b"w00f")

    with pytest.raises(IntegrityError) as raised:
        prodml.read_file(version, "dog.png", client=client)

    assert "2 packed files of dataset imgs@1" in str(raised.value)


def test_logging_the_same_content_again_repairs_a_damaged_local_blob(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "blobs")
    digest, _ = store.put_bytes(b"the original bytes")
    tamper(store, digest, b"the damaged bytes!")
    with pytest.raises(IntegrityError):
        store.read_bytes(digest)
    store.put_bytes(b"the original bytes")
    assert store.read_bytes(digest) == b"the original bytes"


def test_reusing_an_old_blob_renews_its_time_so_gc_keeps_it(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "blobs")
    digest, _ = store.put_bytes(b"shared content")
    path = store.root / blob_file(digest)
    os.utime(path, (time.time() - 7200, time.time() - 7200))
    store.put_bytes(b"shared content")
    assert path.stat().st_mtime > time.time() - 60


@pytest.mark.parametrize("size", [100, SMALL + 1000], ids=["small", "large"])
def test_logging_the_same_content_again_repairs_a_blob_damaged_at_its_own_size(
    store: ArtifactStore, tmp_path: Path, size: int
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(size))
    digest, _ = store.put_file(source)
    tamper(store, digest, bytes(size))  # zeros: what a lost write leaves behind
    with pytest.raises(IntegrityError):
        store.read_bytes(digest)

    assert store.put_file(source) == (digest, size)

    assert store.read_bytes(digest) == source.read_bytes()
    assert store.local_path(digest).read_bytes() == source.read_bytes()
    assert stored_files(store) == [blob_file(digest)]


def test_a_large_blob_logged_again_as_bytes_is_repaired_too(store: ArtifactStore) -> None:
    data = os.urandom(SMALL + 1)
    digest, _ = store.put_bytes(data)
    tamper(store, digest, bytes(len(data)))

    store.put_bytes(data)

    assert store.read_bytes(digest) == data


@pytest.mark.parametrize("size", [10, SMALL + 1], ids=["bytes", "file"])
def test_a_local_blob_reaches_the_disk_before_it_gets_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    store = LocalArtifactStore(tmp_path / "blobs")
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(size))
    steps: list[tuple[str, int]] = []
    fsync, replace = os.fsync, os.replace

    def recorded_fsync(handle: int) -> None:
        steps.append(("fsync", os.fstat(handle).st_ino))
        fsync(handle)

    def recorded_replace(source: str | Path, target: str | Path) -> None:
        steps.append(("rename", os.stat(source).st_ino))
        replace(source, target)

    monkeypatch.setattr(os, "fsync", recorded_fsync)
    monkeypatch.setattr(os, "replace", recorded_replace)
    digest, _ = store.put_file(source)

    blob = (store.root / blob_file(digest)).stat().st_ino
    folder = (store.root / digest[:2]).stat().st_ino
    assert steps.index(("fsync", blob)) < steps.index(("rename", blob))
    assert steps.index(("rename", blob)) < steps.index(("fsync", folder))


def test_a_put_whose_blob_gc_takes_while_it_is_checked_writes_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path / "blobs")
    digest, _ = store.put_bytes(b"shared by two runs")
    hashed = blobs.hash_file

    def hashed_then_collected(path: Path) -> str:
        found = hashed(path)
        store.delete(digest)  # gc, in between
        return found

    monkeypatch.setattr(blobs, "hash_file", hashed_then_collected)
    store.put_bytes(b"shared by two runs")

    assert store.read_bytes(digest) == b"shared by two runs"
