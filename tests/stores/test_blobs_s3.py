"""Blobs on a real S3 API (moto's server on loopback, through s3fs as on AWS): the
cached local copy, many files at once, multipart uploads, and failures (a wrong
secret, a missing bucket, a stopped server, no credentials, credentials in the URL)
that become prodml errors naming the URL and the next step, never the secret.

The contract that every store meets (dedup, verified reads, repairs...) runs on S3 too:
``test_blobs.py``'s ``store`` fixture has an ``s3`` case."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import blake3
import pytest

from prodml.client import Client
from prodml.errors import IntegrityError, InvalidInputError, NotFoundError, StoreError
from prodml.stores import remote_blobs
from prodml.stores.blobs import SMALL
from prodml.stores.remote_blobs import FsspecArtifactStore
from s3_server import AWS_OVERRIDES, S3Server, start_s3_server

MiB = 1 << 20


def s3_store(bucket: str, tmp_path: Path, **options: int) -> FsspecArtifactStore:
    return FsspecArtifactStore(f"s3://{bucket}/blobs", tmp_path / "cache", **options)


def test_a_local_copy_is_downloaded_once_and_verified_every_time(
    s3_bucket: str, tmp_path: Path
) -> None:
    store = s3_store(s3_bucket, tmp_path)
    digest, _ = store.put_bytes(b"remote bytes")

    cached = store.local_path(digest)
    store.fs.rm_file(store._path(digest))  # the cached copy is served without a request
    assert store.local_path(digest) == cached and cached.read_bytes() == b"remote bytes"

    cached.write_bytes(b"edited in the cache")  # and a damaged one is not
    with pytest.raises(NotFoundError, match=digest):
        store.local_path(digest)
    store.put_bytes(b"remote bytes")
    assert store.local_path(digest).read_bytes() == b"remote bytes"
    assert [p.name for p in cached.parent.iterdir()] == [digest]  # no temporary files left


def test_many_files_are_put_and_fetched_in_batches_like_one_by_one(
    s3_bucket: str, tmp_path: Path
) -> None:
    store = s3_store(s3_bucket, tmp_path)
    folder = tmp_path / "files"
    folder.mkdir()
    paths = []
    for index in range(60):
        path = folder / f"{index}.bin"
        path.write_bytes(os.urandom(1000 + index) if index != 30 else os.urandom(SMALL + 1))
        paths.append(path)
    paths.append(paths[0])  # the same file twice

    stored = store.put_files(paths)

    assert stored == [(blake3.blake3(p.read_bytes()).hexdigest(), p.stat().st_size) for p in paths]
    assert sorted(b.digest for b in store.list_blobs()) == sorted({d for d, _ in stored})
    copies = store.local_paths([digest for digest, _ in stored])
    assert [c.read_bytes() for c in copies] == [p.read_bytes() for p in paths]


def test_a_batch_naming_a_missing_or_damaged_blob_is_refused_naming_it(
    s3_bucket: str, tmp_path: Path
) -> None:
    store = s3_store(s3_bucket, tmp_path)
    kept, gone, damaged = (store.put_bytes(data)[0] for data in (b"kept", b"gone", b"damaged"))
    store.delete(gone)
    store.fs.pipe_file(store._path(damaged), b"not what it was")

    with pytest.raises(NotFoundError, match=gone):
        store.local_paths([kept, gone])
    with pytest.raises(IntegrityError, match=damaged):
        store.local_paths([kept, damaged])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [kept]


def test_the_local_copies_stay_within_their_bound_least_recently_read_leaving_first(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = s3_store(s3_bucket, tmp_path)
    monkeypatch.setattr(remote_blobs, "CACHE_BYTES", 25_000)  # two copies and a half
    old, recent, new = (store.put_bytes(os.urandom(10_000))[0] for _ in range(3))
    store.local_paths([old])
    store.local_paths([recent])
    os.utime(tmp_path / "cache" / old, (1, 1))  # read long ago
    store.local_paths([recent])  # read again: stays

    (copy,) = store.local_paths([new])  # over the bound: the least recently read leaves

    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([recent, new])
    assert copy.read_bytes() == store.read_bytes(new)
    store.local_paths([old, recent, new])  # one read larger than the bound keeps its copies
    assert len(list((tmp_path / "cache").iterdir())) == 3


def test_a_large_file_goes_up_and_comes_back_in_parts_verified(
    s3_bucket: str, tmp_path: Path
) -> None:
    store = s3_store(s3_bucket, tmp_path, part_size=5 * MiB)
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(11 * MiB))

    digest, size = store.put_file(source)

    assert (digest, size) == (blake3.blake3(source.read_bytes()).hexdigest(), 11 * MiB)
    assert store.fs.info(store._path(digest))["ETag"].endswith('-3"')  # three parts
    assert store.read_bytes(digest) == source.read_bytes()
    assert store.local_path(digest).read_bytes() == source.read_bytes()  # in parts too
    (tmp_path / "cache" / digest).unlink()
    store.fs.pipe_file(store._path(digest), bytes(11 * MiB))
    with pytest.raises(IntegrityError, match=digest):
        store.local_path(digest)
    assert list((tmp_path / "cache").iterdir()) == []


Operation = Callable[[FsspecArtifactStore, str, Path], object]
OPERATIONS: dict[str, Operation] = {
    "put_bytes": lambda store, digest, path: store.put_bytes(b"new bytes"),
    "put_file": lambda store, digest, path: store.put_file(path),
    "put_files": lambda store, digest, path: store.put_files([path, path]),
    "read_bytes": lambda store, digest, path: store.read_bytes(digest),
    "local_path": lambda store, digest, path: store.local_path(digest),
    "exists": lambda store, digest, path: store.exists(digest),
    "list_blobs": lambda store, digest, path: list(store.list_blobs()),
    "delete": lambda store, digest, path: store.delete(digest, 0.0),
}


def failures(store: FsspecArtifactStore, digest: str, tmp_path: Path) -> dict[str, str]:
    """The message of the StoreError each operation raises; each must raise one."""
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(SMALL + 1))
    messages = {}
    for name, operation in OPERATIONS.items():
        with pytest.raises(StoreError) as raised:
            operation(store, digest, large)
        error = raised.value
        assert error.__cause__ is None and error.__suppress_context__, name
        messages[name] = str(error)
    return messages


def assert_plain(message: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in message
    assert "Traceback" not in message and "\n" not in message


def test_a_wrong_secret_key_is_refused_naming_the_url_and_the_variables(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest, _ = s3_store(s3_bucket, tmp_path).put_bytes(b"stored with the right key")
    wrong = "wrong-secret-" + s3_server.secret_key[::-1]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)

    messages = failures(s3_store(s3_bucket, tmp_path), digest, tmp_path)

    for name, message in messages.items():
        assert f"at s3://{s3_bucket}/blobs: the storage service refused the request" in message
        assert "Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message, name
        assert_plain(message, wrong, s3_server.secret_key)
    assert "SignatureDoesNotMatch" in messages["put_bytes"]
    assert messages["read_bytes"].startswith(f"Cannot read blob {digest} at s3://")


def test_a_missing_bucket_is_named_and_never_made(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    missing = f"{s3_bucket}-missing"

    messages = failures(s3_store(missing, tmp_path), "ab" * 32, tmp_path)

    for message in messages.values():
        assert f"at s3://{missing}/blobs: bucket {missing!r} does not exist" in message
        assert "Create it, or set PRODML_ARTIFACT_URL" in message
        assert_plain(message, s3_server.secret_key)
    buckets = s3_server.client().list_buckets()["Buckets"]
    assert missing not in [bucket["Name"] for bucket in buckets]


def test_a_stopped_server_is_named_by_its_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("moto.server")
    for name in AWS_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    with start_s3_server(auth=False) as server:
        for name, value in server.env(AWS_MAX_ATTEMPTS="1").items():
            monkeypatch.setenv(name, value)
        bucket = server.create_bucket()
        store = s3_store(bucket, tmp_path)
        digest, _ = store.put_bytes(b"written before the stop")
        server.stop()

        messages = failures(store, digest, tmp_path)

    for message in messages.values():
        assert f"the storage service at {server.endpoint} cannot be reached" in message
        assert "Check that it is running and that AWS_ENDPOINT_URL names it" in message
        assert_plain(message, server.secret_key)


def test_no_credentials_at_all_says_which_variables_to_set(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    with pytest.raises(StoreError) as raised:
        s3_store(s3_bucket, tmp_path).put_bytes(b"anything")

    assert str(raised.value) == (
        f"Cannot write blob {blake3.blake3(b'anything').hexdigest()} at s3://{s3_bucket}/blobs: "
        "no credentials were found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        "(or AWS_PROFILE) in the environment."
    )


@pytest.mark.parametrize("where", ["argument", "environment", "store"])
def test_credentials_in_the_url_are_refused_pointing_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    url = "s3://AKIAEXAMPLEKEY:SECRETinTheURL@bucket/prefix"
    with pytest.raises(InvalidInputError) as raised:
        if where == "argument":
            Client(home=str(tmp_path), artifact_url=url)
        elif where == "environment":
            monkeypatch.setenv("PRODML_ARTIFACT_URL", url)
            Client(home=str(tmp_path))
        else:
            FsspecArtifactStore(url, tmp_path / "cache")

    message = str(raised.value)
    assert "SECRETinTheURL" not in message and "AKIAEXAMPLEKEY" not in message
    assert "credentials in its URL (s3://***@bucket/prefix)" in message
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message
    assert "PRODML_ARTIFACT_URL" in message
