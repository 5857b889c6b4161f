"""Garbage collection of blobs: a dry run by default, a grace period for blobs in
flight, and every blob a stored object refers to kept readable."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

import prodml
from prodml.client import Client
from prodml.data.datasets import log_dataset
from prodml.domain.artifact import Artifact
from prodml.domain.ids import new_id, utcnow
from prodml.errors import NotFoundError
from prodml.stores.blobs import BlobInfo, LocalArtifactStore
from prodml.stores.gc import collect
from prodml.stores.remote_blobs import FsspecArtifactStore

Command = Callable[..., subprocess.CompletedProcess[str]]
TWO_HOURS = 2 * 3600


class Constant:
    """A model small enough to pickle: predicts the same number for every row."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, rows: list[object]) -> list[float]:
        return [self.value for _ in rows]


def age(client: Client, digest: str, seconds: float) -> None:
    """Make a blob look ``seconds`` old, in a local folder or in fsspec's memory store."""
    artifacts = client.artifacts
    then = time.time() - seconds
    if isinstance(artifacts, LocalArtifactStore):
        os.utime(artifacts.root / digest[:2] / digest[2:], (then, then))
        return
    assert isinstance(artifacts, FsspecArtifactStore)
    stored = artifacts.fs.store[artifacts.fs._strip_protocol(artifacts._path(digest))]
    stored.created = datetime.fromtimestamp(then, UTC)


def orphan(client: Client, content: bytes, seconds_old: float = TWO_HOURS) -> str:
    digest, _ = client.artifacts.put_bytes(content)
    if seconds_old:
        age(client, digest, seconds_old)
    return digest


@pytest.fixture(params=["folder", "memory"])
def any_blob_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    """A client on SQLite with blobs in a local folder or an fsspec ``memory://`` store."""
    memory = f"memory://prodml-tests/{uuid.uuid4().hex}"
    made = Client(
        home=str(tmp_path / "home"),
        metadata_url=f"sqlite:///{tmp_path / 'prodml.db'}",
        artifact_url=memory if request.param == "memory" else str(tmp_path / "blobs"),
        user="tester",
        flush_interval=0.05,
    )
    yield made
    made.close()
    if request.param == "memory":
        import fsspec

        filesystem = fsspec.filesystem("memory")
        if filesystem.exists(memory):
            filesystem.rm(memory, recursive=True)


def test_a_dry_run_reports_unreferenced_blobs_and_deletes_nothing(client: Client) -> None:
    log_dataset(client, "d", pa.table({"x": [1, 2, 3]}))
    unused = orphan(client, b"orphan")

    report = collect(client.metadata, client.artifacts, delete=False)

    assert [(b.digest, b.size) for b in report.unreferenced] == [(unused, 6)]
    assert (report.bytes, report.referenced, report.deleted) == (6, 2, False)  # table, profile
    assert client.read_blob(unused) == b"orphan"
    assert [e for e in client.metadata.list_events() if e.action == "gc.deleted"] == []


def test_only_unreferenced_blobs_older_than_the_grace_period_are_deleted(client: Client) -> None:
    version = log_dataset(client, "d", pa.table({"x": [1, 2, 3]}))
    blob = client.metadata.dataset_blob(version)
    assert blob is not None
    age(client, blob, TWO_HOURS)
    old, young = orphan(client, b"old orphan"), orphan(client, b"young orphan", seconds_old=0)

    report = collect(client.metadata, client.artifacts, delete=True, grace=3600)

    assert [b.digest for b in report.unreferenced] == [old]
    assert (report.kept_young, report.referenced, report.deleted) == (1, 2, True)
    assert not client.artifacts.exists(old)
    assert client.read_blob(young) == b"young orphan"
    assert prodml.load_table("d@1", client=client).column("x").to_pylist() == [1, 2, 3]
    deleted = [e for e in client.metadata.list_events() if e.action == "gc.deleted"]
    assert [(e.actor, e.details) for e in deleted] == [("tester", {"blobs": 1, "bytes": 10})]


def test_every_referenced_blob_stays_readable_after_a_collection(
    any_blob_client: Client, tmp_path: Path
) -> None:
    client = any_blob_client
    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "tom.png").write_bytes(b"meow")
    (folder / "dog.png").write_bytes(b"woof")
    table = log_dataset(client, "d", pa.table({"x": [1, 2, 3]}))
    images = log_dataset(client, "imgs", folder)
    with prodml.start_run("churn", inputs=[table], client=client) as run:
        report = run.log_artifact(b"<html>report</html>", name="report.html")
        run.log_model(Constant(0.5), "churn")
    unused = orphan(client, b"orphan", seconds_old=0)

    collected = collect(client.metadata, client.artifacts, delete=True, grace=0)

    assert [b.digest for b in collected.unreferenced] == [unused]
    with pytest.raises(NotFoundError):
        client.read_blob(unused)
    assert prodml.load_table("d@1", client=client).column("x").to_pylist() == [1, 2, 3]
    assert prodml.read_file(images, "cats/tom.png", client=client) == b"meow"
    assert prodml.read_file(images, "dog.png", client=client) == b"woof"
    assert client.read_blob(report.digest) == b"<html>report</html>"
    assert prodml.load_model("churn@1", client=client).predict([1, 2]) == [0.5, 0.5]
    assert collect(client.metadata, client.artifacts, delete=False, grace=0).unreferenced == ()


def test_the_gc_command_deletes_only_when_told_yes(tmp_path: Path, prodml_cli: Command) -> None:
    home = tmp_path / "home"
    client = Client(home=str(home), user="tester")
    log_dataset(client, "d", pa.table({"x": [1, 2, 3]}))
    old, young = orphan(client, b"old orphan"), orphan(client, b"young orphan", seconds_old=0)
    client.close()

    dry = prodml_cli("gc", PRODML_HOME=str(home))

    assert dry.returncode == 0, dry.stderr
    assert "Would delete 1 unreferenced blob(s), 10 bytes" in dry.stdout
    assert "kept 2 referenced and 1 younger than an hour" in dry.stdout
    assert "Run again with --yes" in dry.stdout
    assert client.artifacts.exists(old) and client.artifacts.exists(young)

    done = prodml_cli("gc", "--yes", "--grace", "0", PRODML_HOME=str(home))

    assert done.returncode == 0, done.stderr
    assert "Deleted 2 unreferenced blob(s), 22 bytes; kept 2 referenced" in done.stdout
    assert not client.artifacts.exists(old) and not client.artifacts.exists(young)
    reopened = Client(home=str(home), user="tester")
    try:
        assert prodml.load_table("d", client=reopened).num_rows == 3
    finally:
        reopened.close()


def reused_after_listing(
    monkeypatch: pytest.MonkeyPatch, client: Client, reuse: Callable[[], object]
) -> None:
    """Call ``reuse`` once gc has listed every blob, before it deletes any."""
    listing = client.artifacts.list_blobs

    def listed_then_reused() -> Iterator[BlobInfo]:
        yield from listing()
        reuse()

    monkeypatch.setattr(client.artifacts, "list_blobs", listed_then_reused)


def test_a_blob_referenced_while_gc_runs_is_kept(
    any_blob_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = any_blob_client
    run = prodml.start_run("reuse", client=client)
    digest = orphan(client, b"a report nobody needed, until now")
    artifact = Artifact(
        id=new_id(),
        owner_kind="run",
        owner_id=run.id,
        name="report.html",
        digest=digest,
        size=33,
        media_type="text/html",
        created_at=utcnow(),
    )
    reused_after_listing(monkeypatch, client, lambda: client.metadata.add_artifact(artifact))

    report = collect(client.metadata, client.artifacts, delete=True)

    assert client.read_blob(digest) == b"a report nobody needed, until now"
    assert report.unreferenced == ()
    assert [e for e in client.metadata.list_events() if e.action == "gc.deleted"] == []
    run.end()


def test_a_blob_a_writer_reuses_while_gc_runs_is_kept_for_the_row_that_follows(
    any_blob_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = any_blob_client
    digest = orphan(client, b"old bytes, logged again")
    other = orphan(client, b"old bytes nobody logs again")
    reused_after_listing(
        monkeypatch, client, lambda: client.artifacts.put_bytes(b"old bytes, logged again")
    )

    report = collect(client.metadata, client.artifacts, delete=True)

    assert client.read_blob(digest) == b"old bytes, logged again"
    assert [blob.digest for blob in report.unreferenced] == [other]
    assert not client.artifacts.exists(other)
