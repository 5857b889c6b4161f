"""A client whose blobs are on S3 (moto's server on loopback, reached through the AWS
environment): a scikit-learn model logged in a run and datasets come back whole, and
garbage collection, from Python and from ``prodml gc``, deletes only what nothing uses.
A failure reaches the command line as one plain line naming the URL, never the secret."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import prodml
from prodml.client import Client
from prodml.data.datasets import log_dataset
from prodml.errors import NotFoundError
from prodml.stores.gc import collect
from prodml.stores.remote_blobs import FsspecArtifactStore
from s3_server import S3Server

Command = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def s3_client(s3_bucket: str, tmp_path: Path) -> Iterator[Client]:
    made = Client(
        home=str(tmp_path / "home"),
        metadata_url=f"sqlite:///{tmp_path / 'prodml.db'}",
        artifact_url=f"s3://{s3_bucket}/prodml",
        user="tester",
        flush_interval=0.05,
    )
    yield made
    made.close()


def test_a_model_and_datasets_logged_to_s3_load_back_and_survive_gc(
    s3_client: Client, s3_server: S3Server, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    client = s3_client
    rows = np.random.default_rng(7).normal(size=(200, 3))
    labels = (rows[:, 0] + rows[:, 1] > 0).astype(int)
    table = log_dataset(client, "train", pa.table({"a": rows[:, 0], "label": labels}))
    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "tom.png").write_bytes(b"meow")
    (folder / "big.bin").write_bytes(big := os.urandom(300 << 10))  # a blob of its own
    images = log_dataset(client, "images", folder)
    with prodml.start_run("churn", inputs=[table, images], client=client) as run:
        estimator = LogisticRegression().fit(rows, labels)
        run.log_metric("accuracy", float(estimator.score(rows, labels)))
        run.log_model(estimator, "churn")
    orphan, _ = client.artifacts.put_bytes(b"nobody refers to me")

    assert isinstance(client.artifacts, FsspecArtifactStore)
    stored = {blob.digest for blob in client.artifacts.list_blobs()}
    assert orphan in stored and len(stored) >= 5
    dry = collect(client.metadata, client.artifacts, delete=False, grace=0)
    young = collect(client.metadata, client.artifacts, delete=True, grace=3600)
    done = prodml.collect_garbage(delete=True, grace=0, client=client)

    assert [b.digest for b in dry.unreferenced] == [b.digest for b in done.unreferenced] == [orphan]
    assert (young.unreferenced, young.kept_young) == ((), 1)
    assert {blob.digest for blob in client.artifacts.list_blobs()} == stored - {orphan}
    with pytest.raises(NotFoundError):
        client.read_blob(orphan)
    loaded = prodml.load_model("churn@1", client=client)
    assert (loaded.predict(rows) == estimator.predict(rows)).all()
    assert prodml.load_table("train@1", client=client).column("label").to_pylist() == list(labels)
    assert prodml.read_file(images, "cats/tom.png", client=client) == b"meow"
    copied = prodml.checkout(images, tmp_path / "copy", client=client)
    assert [p.relative_to(tmp_path / "copy").as_posix() for p in copied] == [
        "big.bin",
        "cats/tom.png",
    ]
    assert copied[0].read_bytes() == big
    events = json.dumps([e.details for e in client.metadata.list_events()])
    assert s3_server.secret_key not in events and s3_server.access_key not in events


def test_the_gc_command_works_on_s3_and_a_failure_is_one_line_without_the_secret(
    s3_bucket: str,
    s3_server: S3Server,
    tmp_path: Path,
    prodml_cli: Command,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home, url = tmp_path / "home", f"s3://{s3_bucket}/prodml"
    client = Client(home=str(home), artifact_url=url, user="tester")
    log_dataset(client, "d", pa.table({"x": [1, 2, 3]}))
    orphan, _ = client.artifacts.put_bytes(b"orphan")
    client.close()
    settings = {"PRODML_HOME": str(home), "PRODML_ARTIFACT_URL": url}

    done = prodml_cli("gc", "--yes", "--grace", "0", **settings)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong := "not-" + s3_server.secret_key)
    refused = prodml_cli("gc", **settings)

    assert done.returncode == 0, done.stderr
    assert "Deleted 1 unreferenced blob(s), 6 bytes; kept 2 referenced" in done.stdout
    assert not client.artifacts.exists(orphan)
    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert f"Cannot list blobs at {url}: the storage service refused the request" in output
    assert "AWS_SECRET_ACCESS_KEY" in output
    assert "Traceback" not in output
    assert wrong not in output and s3_server.secret_key not in output
