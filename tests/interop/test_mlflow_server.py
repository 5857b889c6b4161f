"""``prodml import mlflow http://...``: importing from a running MLflow tracking server,
as most teams run MLflow, read through the REST API by the dev venv's MLflow client.

The server (``mlflow server``, SQLite backend, artifacts served by the server itself)
runs from a venv of its own (see ``mlflow_server.py``), installed once into a cache
folder; where the install fails the tests are skipped with the reason, except in CI
(``CI=true``), where they fail. It is filled through MLflow's own client pointed at its
URL: two experiments, finished, failed and running runs with params, tags, artifacts
and metrics (a thousand steps, points sharing a step, a NaN), and two scikit-learn
model versions logged with ``mlflow.sklearn.log_model``, an alias, a stage and a tag.
What ``prodml import mlflow URL`` stores is compared with what MLflow's client reads
from the server, point by point and byte by byte; then what a second import adds, what
a failure midway leaves, and the errors for a server that does not answer or that wants
credentials (these last two on stand-ins, without the venv)."""

from __future__ import annotations

import base64
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.domain.run import RunStatus
from prodml.errors import StoreError
from prodml.interop import mlflow_runs

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow_server import SERIES, VENV, free_port, running_server  # noqa: E402

from throwaway_venv import VenvUnavailable, in_ci  # noqa: E402

pytestmark = pytest.mark.mlflow_server

COLUMNS = ["tenure", "charges", "calls"]
STATUS = {"FINISHED": RunStatus.FINISHED, "FAILED": RunStatus.FAILED}
T0 = 1_700_000_000_000  # ms


@dataclass
class Source:
    url: str
    mlflow: Any  # MlflowClient on the server
    runs: dict[str, str]  # role -> MLflow run id
    models: dict[int, Any]  # version -> the fitted scikit-learn model logged


@pytest.fixture(scope="session")
def mlflow_server_venv() -> Path:
    """The interpreter of the venv holding the full ``mlflow``, installed on first use."""
    try:
        return VENV.ensure()
    except VenvUnavailable as error:
        reason = f"mlflow {SERIES} could not be installed into {VENV.folder}: {error}"
        if in_ci():
            pytest.fail(f"CI must test importing from an MLflow server: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server(mlflow_server_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


def _fit(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    rows = np.random.default_rng(seed).random((60, 3))
    return LogisticRegression().fit(pd.DataFrame(rows, columns=COLUMNS), rows[:, 0] > 0.5)


def _log_model(url: str, run_id: str, model: Any) -> None:
    """``mlflow.sklearn.log_model`` into the run, registered as a new churn-model version."""
    import mlflow.sklearn

    with pytest.MonkeyPatch.context() as patch:  # the fluent API's server, for these calls
        patch.setenv("MLFLOW_TRACKING_URI", url)
        patch.setenv("MLFLOW_REGISTRY_URI", url)
        with mlflow.start_run(run_id=run_id):
            mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=pd.DataFrame([[0.1, 0.2, 0.3]], columns=COLUMNS),
                pip_requirements=["scikit-learn"],  # not inferred: a process of its own
                # not skops, the default: its import walks every estimator (and torch), 10 s
                serialization_format="cloudpickle",
                registered_model_name="churn-model",
            )


def _populate(url: str, folder: Path) -> Source:
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    churn = client.create_experiment("churn", tags={"team": "risk"})
    fraud = client.create_experiment("fraud")
    runs: dict[str, str] = {}
    models: dict[int, Any] = {}
    for version, role in ((1, "first"), (2, "best")):
        run = client.create_run(churn, run_name=role, tags={"team": "risk"})
        runs[role] = run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=[Param("depth", str(4 + version)), Param("lr", "0.1")],
            tags=[RunTag("mlflow.note.content", f"try {version}")],
            metrics=[Metric("auc", 0.7 + version / 10, T0, 0)],
        )
        models[version] = _fit(version)
        _log_model(url, run_id, models[version])
    best = runs["best"]
    # a thousand steps in one batch, points sharing a step at other times, a NaN
    client.log_batch(best, metrics=[Metric("loss", 1 / (s + 1), T0 + s, s) for s in range(1000)])
    client.log_batch(
        best,
        metrics=[
            Metric("loss", 0.25, T0 + 5_000, 3),
            Metric("loss", 0.125, T0 + 6_000, 3),
            Metric("grad", math.nan, T0 + 7_000, 0),
            Metric("grad", 0.5, T0 + 8_000, 1),
        ],
    )
    files = folder / "files"
    (files / "plots").mkdir(parents=True)
    (files / "summary.txt").write_text("auc went up\n")
    (files / "plots" / "curve.bin").write_bytes(bytes(range(256)) * 4)
    client.log_artifacts(best, str(files))
    for role in runs.values():
        client.set_terminated(role, "FINISHED")
    broken = client.create_run(churn, run_name="broken")
    client.log_batch(broken.info.run_id, params=[Param("depth", "60")])
    client.log_metric(broken.info.run_id, "loss", math.inf, timestamp=T0, step=0)
    client.set_terminated(broken.info.run_id, "FAILED")
    baseline = client.create_run(fraud, run_name="baseline", tags={"owner": "ops"})
    client.log_metric(baseline.info.run_id, "recall", 0.6, timestamp=T0, step=0)
    client.set_terminated(baseline.info.run_id, "FINISHED")
    going = client.create_run(fraud, run_name="still going")
    client.log_metric(going.info.run_id, "recall", 0.3, timestamp=T0, step=1)
    runs.update(broken=broken.info.run_id, baseline=baseline.info.run_id, going=going.info.run_id)
    client.set_registered_model_alias("churn-model", "champion", "2")
    client.transition_model_version_stage("churn-model", "1", "Staging")
    client.set_model_version_tag("churn-model", "2", "validated", "yes")
    return Source(url=url, mlflow=client, runs=runs, models=models)


@pytest.fixture(scope="module")
def source(server: str, tmp_path_factory: pytest.TempPathFactory) -> Source:
    return _populate(server, tmp_path_factory.mktemp("mlflow-files"))


def _prodml(
    home: Path, *args: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``prodml ARGS`` in its own process on the store at ``home``, as a user runs it."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    kept.update(environment or {})
    result = subprocess.run(
        [sys.executable, "-c", "from prodml.cli.main import run; run()", *args],
        env={**kept, "PRODML_HOME": str(home), "PRODML_USER": "importer", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "Unexpected error" not in result.stderr, result.stderr
    return result


def _import(home: Path, url: str) -> dict[str, Any]:
    """``prodml import mlflow URL --json``: its report."""
    result = _prodml(home, "import", "mlflow", url, "--json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _client(home: Path) -> Client:
    return Client(home=str(home), user="importer", flush_interval=0.05)


@pytest.fixture(scope="module")
def imported(
    source: Source, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Any], Client]]:
    home = tmp_path_factory.mktemp("prodml") / ".prodml"
    report = _import(home, source.url)
    client = _client(home)
    yield report, client
    client.close()


def _history(points: list[Any]) -> list[tuple[int, int, str]]:
    """(step, time in ms, value as text: NaN equals NaN) of prodml's or MLflow's points."""
    return sorted((p.step, round(p.timestamp), repr(float(p.value))) for p in points)


def _mine(points: list[Any]) -> list[tuple[int, int, str]]:
    return sorted((p.step, round(p.timestamp * 1000), repr(float(p.value))) for p in points)


def _artifact_files(source: Any, run_id: str, path: str | None = None) -> list[str]:
    found: list[str] = []
    for entry in source.list_artifacts(run_id, path):
        found += _artifact_files(source, run_id, entry.path) if entry.is_dir else [entry.path]
    return found


def _check_runs(source: Any, client: Client) -> int:
    """Every run on the server as prodml stores it: experiment, status, times, params,
    tags, each metric point and each artifact's bytes. The number of points."""
    experiments = {e.experiment_id: e.name for e in source.search_experiments()}
    runs = source.search_runs(list(experiments))
    assert len(prodml.list_runs(client=client)) == len(runs)
    points = 0
    for run in runs:
        info, data = run.info, run.data
        stored = prodml.get_run(info.run_id, client=client)
        assert stored.experiment == experiments[info.experiment_id]
        assert stored.status is STATUS.get(info.status, RunStatus.RUNNING), info.status
        assert stored.started_at.timestamp() * 1000 == pytest.approx(info.start_time)
        if info.status == "RUNNING":
            assert stored.ended_at is None
        else:
            assert stored.ended_at is not None
            assert stored.ended_at.timestamp() * 1000 == pytest.approx(info.end_time)
        assert stored.params == data.params
        assert {key: stored.tags[key] for key in data.tags} == data.tags
        assert stored.tags["import.uri"] == source.tracking_uri
        assert stored.environment["mlflow"]["artifact_uri"] == info.artifact_uri
        assert set(stored.metrics) == set(data.metrics)
        for key in data.metrics:
            theirs = _history(source.get_metric_history(info.run_id, key))
            assert _mine(prodml.metric_history(info.run_id, key, client=client)) == theirs, key
            points += len(theirs)
        artifacts = {a.name: a for a in client.metadata.list_artifacts("run", info.run_id)}
        files = _artifact_files(source, info.run_id)
        assert sorted(artifacts) == sorted(files)
        with tempfile.TemporaryDirectory() as folder:
            for path in files:
                local = Path(source.download_artifacts(info.run_id, path, folder))
                assert client.read_blob(artifacts[path].digest) == local.read_bytes(), path
    stored_points = sum(
        client.metadata.count_metric_points(r.id) for r in client.metadata.list_runs()
    )
    assert stored_points == points  # no point twice
    return points


def _check_registry(source: Any, client: Client) -> None:
    """Every registered version on the server as prodml stores it: number, run (linked
    in prodml's lineage), stage and tags, and each alias."""
    for registered in source.search_registered_models():
        name = registered.name
        versions = {int(v.version): v for v in source.search_model_versions(f"name = '{name}'")}
        stored = {v.version: v for v in prodml.list_model_versions(name, client=client)}
        assert sorted(stored) == sorted(versions)
        for number, version in versions.items():
            mine = stored[number]
            assert mine.run_id == mlflow_runs.run_id(version.run_id)
            assert mine.flavor == "mlflow.sklearn"
            assert [c["name"] for c in mine.signature["columns"]] == COLUMNS
            tags = {
                t.key: t.value
                for t in prodml.describe_model(f"{name}@{number}", client=client).tags
            }
            assert {key: tags[key] for key in version.tags} == version.tags
            assert tags["mlflow.version"] == f"{name}/{number}"
            assert tags.get("mlflow.stage", "None") == version.current_stage
            assert mine.id in str(prodml.downstream(version.run_id, client=client))
        aliases = dict(registered.aliases)
        assert aliases, "the server's registered model has its alias"
        for alias, number in aliases.items():
            assert prodml.get_model(f"{name}@{alias}", client=client).version == int(number)


def test_the_command_reports_what_it_read_from_the_server(
    source: Source, imported: tuple[dict[str, Any], Client]
) -> None:
    report, _ = imported
    assert report["source"] == source.url
    assert report["mlflow_version"] == mlflow.__version__
    assert (report["experiments"], report["runs_imported"], report["runs_skipped"]) == (3, 5, 0)
    assert report["metric_points"] == 1000 + 2 + 2 + 2 + 1 + 1 + 1
    assert report["params"] == 2 + 2 + 1
    assert report["artifact_files"] == 2
    assert (report["model_versions_imported"], report["aliases_moved"]) == (2, 1)


def test_every_run_point_and_artifact_comes_across_from_the_server(
    source: Source, imported: tuple[dict[str, Any], Client]
) -> None:
    _, client = imported
    assert _check_runs(source.mlflow, client) == imported[0]["metric_points"]
    best = prodml.get_run(source.runs["best"], client=client)
    assert (best.experiment, best.hypothesis, best.tags["team"]) == ("churn", "try 2", "risk")
    assert prodml.get_run(source.runs["broken"], client=client).status is RunStatus.FAILED
    assert prodml.get_run(source.runs["going"], client=client).status is RunStatus.RUNNING


def test_model_versions_keep_numbers_runs_alias_stage_and_tags(
    source: Source, imported: tuple[dict[str, Any], Client]
) -> None:
    _, client = imported
    _check_registry(source.mlflow, client)
    assert prodml.get_model("churn-model@champion", client=client).version == 2
    versions = prodml.list_model_versions("churn-model", client=client)
    assert {v.version: v.run_id for v in versions} == {
        1: source.runs["first"],
        2: source.runs["best"],
    }


def test_the_imported_champion_predicts_as_the_mlflow_model(
    source: Source, imported: tuple[dict[str, Any], Client]
) -> None:
    _, client = imported
    rows = pd.DataFrame(np.random.default_rng(7).random((20, 3)), columns=COLUMNS)
    predictor = prodml.load_predictor("churn-model@champion", client=client)
    assert list(predictor.predict(rows)) == list(source.models[2].predict(rows))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", source.url)
        patch.setenv("MLFLOW_REGISTRY_URI", source.url)
        through_mlflow = mlflow.pyfunc.load_model("models:/churn-model@champion")
    assert list(predictor.predict(rows)) == list(through_mlflow.predict(rows))


def test_a_server_failing_midway_leaves_whole_runs_and_the_next_import_completes(
    source: Source, imported: tuple[dict[str, Any], Client], tmp_path: Path
) -> None:
    """What the import promises: each page of runs is stored whole or not at all, and a
    failure is one error naming the server and saying to import again."""
    client = _client(tmp_path / "home")

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise MlflowException("API request failed: Max retries exceeded (Connection refused)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MlflowClient, "get_metric_history", refused)
        with pytest.raises(StoreError, match=f"MLflow store {source.url} failed.*import again"):
            prodml.import_mlflow(source.url, client=client)
    assert prodml.list_runs(client=client) == []  # the page failed before its write

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MlflowClient, "get_model_version_download_uri", refused)
        with pytest.raises(StoreError, match="Connection refused"):
            prodml.import_mlflow(source.url, client=client)
    _check_runs(source.mlflow, client)  # the runs' page was stored whole
    assert prodml.list_models(client=client) == []

    report = prodml.import_mlflow(source.url, client=client)
    assert (report.runs_imported, report.model_versions_imported) == (0, 2)
    _check_runs(source.mlflow, client)
    _check_registry(source.mlflow, client)
    client.close()


def test_a_second_import_adds_only_what_changed_on_the_server(
    source: Source, imported: tuple[dict[str, Any], Client], tmp_path: Path
) -> None:
    """After the tests comparing with the server: it changes what the server holds."""
    home = tmp_path / ".prodml"
    client = _client(home)
    first = prodml.import_mlflow(source.url, client=client)
    again = _prodml(home, "import", "mlflow", source.url)  # as a user runs it again
    assert again.returncode == 0, again.stderr
    assert "runs: 0 imported, 1 brought up to date, 4 already here" in again.stdout
    assert "1 metric points, 0 artifact file(s)" in again.stdout  # the running run's, again
    assert "model versions: 0 imported, 2 already here; 0 alias(es) set" in again.stdout
    assert _check_runs(source.mlflow, client) == first.metric_points

    server = source.mlflow
    going = source.runs["going"]
    server.log_metric(going, "recall", 0.4, timestamp=T0 + 1_000, step=2)
    server.set_terminated(going, "FINISHED")
    added = server.create_run(server.get_experiment_by_name("fraud").experiment_id)
    server.log_batch(
        added.info.run_id,
        params=[Param("window", "7d")],
        metrics=[Metric("recall", 0.5, T0, 0), Metric("recall", 0.55, T0 + 1, 1)],
    )
    server.set_terminated(added.info.run_id, "FINISHED")
    server.set_registered_model_alias("churn-model", "champion", "1")
    server.transition_model_version_stage("churn-model", "2", "Production")
    third = prodml.import_mlflow(source.url, client=client)

    assert (third.runs_imported, third.runs_updated, third.runs_skipped) == (1, 1, 4)
    assert (third.model_versions_imported, third.aliases_moved) == (0, 1)
    assert third.metric_points == 2 + 2  # the finished run's whole history, the new run's
    assert _check_runs(server, client) == first.metric_points + 3
    _check_registry(server, client)
    assert prodml.get_run(going, client=client).metrics == {"recall": 0.4}
    client.close()


def test_a_server_that_does_not_answer_is_named_with_the_next_step(tmp_path: Path) -> None:
    """A port that takes connections and never answers: one line naming the URL and what
    to check, after MLflow's own timeout (set short here), not after minutes of retries;
    nothing is stored."""
    home = tmp_path / ".prodml"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        began = time.monotonic()
        result = _prodml(
            home, "import", "mlflow", url, environment={"MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}
        )
    assert result.returncode == 1
    assert time.monotonic() - began < 60
    message = " ".join(result.stderr.split())
    assert f"Cannot reach the MLflow tracking server at {url}: " in message
    assert "timed out" in message and "`mlflow server` is running there" in message
    client = _client(home)
    assert prodml.list_runs(client=client) == []
    refused = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=f"Cannot reach .* at {refused}: .*Connection refused"):
        prodml.import_mlflow(refused, client=client)
    client.close()


class _Guarded(BaseHTTPRequestHandler):
    """An MLflow-like server behind basic auth: ann/secret, and nothing logged yet."""

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(b"ann:secret").decode()
        allowed = self.headers.get("Authorization") == expected
        self.send_response(200 if allowed else 401)
        self.end_headers()
        self.wfile.write(b"{}" if allowed else b"You are not authenticated.")

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def test_a_server_behind_auth_gets_the_credentials_mlflow_sends(tmp_path: Path) -> None:
    """The first request already carries MLflow's credentials (here its environment
    variables); without them, the error says which to set."""
    guarded = ThreadingHTTPServer(("127.0.0.1", 0), _Guarded)
    threading.Thread(target=guarded.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{guarded.server_port}"
    client = _client(tmp_path / "home")
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in (
                "MLFLOW_TRACKING_USERNAME",
                "MLFLOW_TRACKING_PASSWORD",
                "MLFLOW_TRACKING_TOKEN",
            ):
                patch.delenv(name, raising=False)
            patch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
            with pytest.raises(StoreError, match=f"server at {url} refused access \\(401\\)"):
                prodml.import_mlflow(url, client=client)
            patch.setenv("MLFLOW_TRACKING_PASSWORD", "secret")
            report = prodml.import_mlflow(url, client=client)
        assert (report.experiments, report.runs_imported) == (0, 0)
    finally:
        guarded.shutdown()
        guarded.server_close()
        client.close()
