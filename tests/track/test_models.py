"""Artifacts and models logged by a run: stored content, signature, environment."""

from __future__ import annotations

import platform
import subprocess
import threading
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.errors import DataReadError, InvalidInputError, NotFoundError

RunScript = Callable[..., subprocess.CompletedProcess[str]]


def _training_frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {"distance": rng.uniform(100, 3000, 200), "hour": rng.integers(0, 24, 200)}
    )
    labels = (features["distance"] / 1000 + features["hour"] / 12 > 2.5).astype(int).to_numpy()
    return features, labels


def test_artifacts_of_bytes_and_files_are_stored_with_their_content(
    client: Client, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    report.write_text("<h1>AUC 0.91</h1>")

    with prodml.start_run("fit", client=client) as run:
        from_bytes = run.log_artifact(b'{"threshold": 0.4}', name="threshold.json")
        from_file = run.log_artifact(report)
        renamed = run.log_artifact(str(report), name="eval/report-v2.html")

    assert client.read_blob(from_bytes.digest) == b'{"threshold": 0.4}'
    assert client.read_blob(from_file.digest) == b"<h1>AUC 0.91</h1>"
    assert (from_bytes.name, from_file.name, renamed.name) == (
        "threshold.json",
        "report.html",
        "eval/report-v2.html",
    )
    assert from_bytes.media_type == "application/json"
    assert from_file.media_type == "text/html"
    assert (from_bytes.size, from_file.size) == (18, 17)
    assert renamed.digest == from_file.digest
    stored = client.metadata.list_artifacts("run", run.id)
    assert [a.id for a in stored] == [from_bytes.id, from_file.id, renamed.id]


def test_bad_artifacts_are_refused(client: Client, tmp_path: Path) -> None:
    with prodml.start_run("fit", client=client) as run:
        with pytest.raises(InvalidInputError, match="name="):
            run.log_artifact(b"raw")
        with pytest.raises(DataReadError, match=r"missing\.txt"):
            run.log_artifact(tmp_path / "missing.txt")
        with pytest.raises(InvalidInputError, match="is a folder"):
            run.log_artifact(tmp_path)

    assert client.metadata.list_artifacts("run", run.id) == []


def test_a_scikit_learn_model_round_trips_with_signature_and_environment(
    client: Client,
) -> None:
    features, labels = _training_frame()
    estimator = LogisticRegression(max_iter=500).fit(features, labels)

    with prodml.start_run("fit", client=client) as run:
        logged = run.log_model(estimator, "delay-clf", example=features.head(5))

    assert (logged.ref, logged.run_id, logged.flavor) == ("delay-clf@1", run.id, "sklearn")
    assert logged.author == "tester"
    assert logged.signature["kind"] == "columns"
    assert [(c["name"], c["type"]) for c in logged.signature["columns"]] == [
        ("distance", "double"),
        ("hour", "int64"),
    ]
    assert logged.environment["python"] == platform.python_version()
    assert logged.environment["packages"]["scikit-learn"] == version("scikit-learn")

    loaded = prodml.load_model("delay-clf@1", client=client)
    assert type(loaded) is LogisticRegression
    np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))
    np.testing.assert_array_equal(loaded.predict_proba(features), estimator.predict_proba(features))
    assert prodml.get_model("delay-clf", client=client).id == logged.id


def test_each_logged_model_is_the_next_version(client: Client) -> None:
    features, labels = _training_frame()
    with prodml.start_run("fit", client=client) as run:
        first = run.log_model(LogisticRegression(C=0.1).fit(features, labels), "clf")
        second = run.log_model(LogisticRegression(C=10.0).fit(features, labels), "clf")

    assert (first.version, second.version) == (1, 2)
    assert prodml.get_model("clf", client=client).version == 2
    assert prodml.load_model("clf@1", client=client).C == 0.1
    assert prodml.load_model("clf", client=client).C == 10.0
    with pytest.raises(NotFoundError, match="clf@3"):
        prodml.get_model("clf@3", client=client)


def test_a_numpy_example_gives_a_tensor_signature(client: Client) -> None:
    features, labels = _training_frame()
    estimator = LogisticRegression(max_iter=500).fit(features.to_numpy(), labels)

    with prodml.start_run("fit", client=client) as run:
        logged = run.log_model(estimator, "arr", example=features.to_numpy()[:3])

    assert logged.signature == {"kind": "tensor", "dtype": "float64", "shape": [-1, 2]}


class _Locked:
    def __init__(self) -> None:
        self.lock = threading.Lock()

    def predict(self, rows: list[int]) -> list[int]:
        return rows


def test_objects_that_are_not_models_are_refused(client: Client) -> None:
    with prodml.start_run("fit", client=client) as run:
        with pytest.raises(InvalidInputError, match="predict") as raised:
            run.log_model({"weights": [1, 2]}, "not-a-model")
        assert "'not-a-model'" in str(raised.value)
        with pytest.raises(InvalidInputError, match="picklable"):
            run.log_model(_Locked(), "locked")

    with pytest.raises(NotFoundError):
        prodml.get_model("not-a-model", client=client)
    with pytest.raises(NotFoundError):
        prodml.get_model("locked", client=client)


def test_a_model_whose_class_cannot_be_imported_names_the_version_and_the_fix(
    client: Client, run_script: RunScript
) -> None:
    logged = run_script(
        client,
        "import prodml\n"
        "class Local:\n"
        "    def predict(self, rows): return rows\n"
        "with prodml.start_run('local') as run:\n"
        "    run.log_model(Local(), 'local-model')\n",
    )
    assert logged.returncode == 0, logged.stderr
    with pytest.raises(DataReadError, match=r"local-model@1 cannot be loaded here.*importable"):
        prodml.load_model("local-model@1", client=client)


def test_artifacts_keep_ordinary_file_names_and_a_folder_is_pointed_elsewhere(
    client: Client, tmp_path: Path
) -> None:
    with prodml.start_run("names", client=client) as run:
        names = [run.log_artifact(b"x", name=n).name for n in ("résumé.pdf", "report (1).html")]
        with pytest.raises(InvalidInputError, match="log_dataset"):
            run.log_artifact(tmp_path)
        blobs_before = sorted(Path(client.settings.artifact_url).rglob("*"))
        with pytest.raises(InvalidInputError, match="printable"):
            run.log_artifact(b"never stored", name="bad\nname")
        assert sorted(Path(client.settings.artifact_url).rglob("*")) == blobs_before
    assert names == ["résumé.pdf", "report (1).html"]
