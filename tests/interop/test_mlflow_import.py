"""Importing an MLflow store built with the real MLflow: every param, tag and metric point
comes across, the registry too, a second import adds only what is new, and an imported
scikit-learn model predicts through its MLflow flavor."""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.domain.run import RunStatus
from prodml.errors import InvalidInputError, StoreError

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
from mlflow import pyfunc  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

COLUMNS = ["tenure", "charges", "calls"]
PRODML = Path(sys.executable).parent / "prodml"


@dataclass
class Source:
    uri: str
    mlflow: Any  # MlflowClient
    runs: dict[str, str]  # role -> MLflow run id
    model: Any  # the fitted scikit-learn model behind version 2


class Doubler(pyfunc.PythonModel):  # type: ignore[misc, name-defined]
    """A model of MLflow's python_function flavor only: twice the tenure."""

    def predict(self, context: Any, model_input: pd.DataFrame) -> Any:
        return model_input["tenure"] * 2


def _fit(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    rows = np.random.default_rng(seed).random((60, 3))
    return LogisticRegression().fit(pd.DataFrame(rows, columns=COLUMNS), rows[:, 0] > 0.5)


def _log_history(client: Any, run_id: str) -> None:
    points = [
        Metric("loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step) for step in range(30)
    ]
    points += [
        Metric("auc", 0.5 + step / 100, 1_700_000_100_000 + step, step * 10) for step in range(5)
    ]
    points += [Metric("auc", 0.61, 1_700_000_200_000, 10)]  # a second point at one step
    points += [Metric("grad", math.nan, 1_700_000_300_000, 0)]
    client.log_batch(run_id, metrics=points)


def _build(folder: Path) -> Source:
    import mlflow.sklearn

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    churn = client.create_experiment("churn", artifact_location=str(folder / "artifacts"))
    fraud = client.create_experiment("fraud", artifact_location=str(folder / "artifacts"))
    best = client.create_run(churn, run_name="best", tags={"team": "risk"})
    run_id = best.info.run_id
    client.log_batch(
        run_id,
        params=[Param("depth", "6"), Param("lr", "0.1")],
        tags=[RunTag("mlflow.note.content", "deeper trees help")],
    )
    _log_history(client, run_id)
    notes = folder / "notes"
    (notes / "plots").mkdir(parents=True)
    (notes / "summary.txt").write_text("auc went up")
    (notes / "plots" / "curve.csv").write_text("x,y\n1,2\n")
    client.log_artifacts(run_id, str(notes))
    models = {}
    for version, seed in ((1, 1), (2, 2)):
        models[version] = _fit(seed)
        saved = folder / f"model-{version}"
        mlflow.sklearn.save_model(
            models[version],
            str(saved),
            input_example=pd.DataFrame([[0.1, 0.2, 0.3]], columns=COLUMNS),
            pip_requirements=["scikit-learn", "skops"],  # not inferred: a process each
        )
        client.log_artifacts(run_id, str(saved), f"model-{version}")
    client.set_terminated(run_id, "FINISHED")
    client.create_registered_model("churn-model")
    for version in (1, 2):
        client.create_model_version(
            "churn-model", f"{best.info.artifact_uri}/model-{version}", run_id=run_id
        )
    client.set_registered_model_alias("churn-model", "champion", "2")
    doubler = folder / "doubler"
    pyfunc.save_model(str(doubler), python_model=Doubler(), pip_requirements=["pandas"])
    client.create_registered_model("doubler")
    client.create_model_version("doubler", str(doubler), run_id=run_id)
    client.transition_model_version_stage("churn-model", "1", "Staging")
    failed = client.create_run(churn, run_name="broken")
    client.log_batch(failed.info.run_id, params=[Param("depth", "60")])
    client.set_terminated(failed.info.run_id, "FAILED")
    going = client.create_run(fraud, run_name="still going")
    client.log_metric(going.info.run_id, "recall", 0.3, timestamp=1_700_000_000_000, step=1)
    runs = {"best": run_id, "failed": failed.info.run_id, "going": going.info.run_id}
    return Source(uri=uri, mlflow=client, runs=runs, model=models[2])


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return _build(tmp_path_factory.mktemp("mlflow"))


def _client(home: Path) -> Client:
    return Client(home=str(home), user="importer", flush_interval=0.05)


@pytest.fixture(scope="module")
def imported(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = _client(tmp_path_factory.mktemp("prodml"))
    prodml.import_mlflow(source.uri, client=client)
    yield client
    client.close()


def _mine(history: list[Any]) -> list[tuple[int, int, str]]:
    """(step, time in ms, value as text: NaN equals NaN) of prodml's points, sorted."""
    return sorted((p.step, round(p.timestamp * 1000), repr(p.value)) for p in history)


def _theirs(history: list[Any]) -> list[tuple[int, int, str]]:
    """The same of MLflow's points."""
    return sorted((p.step, p.timestamp, repr(float(p.value))) for p in history)


def test_every_param_tag_and_metric_point_of_every_run_comes_across(
    source: Source, imported: Client
) -> None:
    experiments = [e.experiment_id for e in source.mlflow.search_experiments()]
    for run in source.mlflow.search_runs(experiments):
        stored = prodml.get_run(run.info.run_id, client=imported)
        assert stored.params == run.data.params
        assert {k: stored.tags[k] for k in run.data.tags} == run.data.tags
        assert stored.tags["import.source"] == "mlflow"
        assert stored.started_at.timestamp() * 1000 == pytest.approx(run.info.start_time)
        assert set(stored.metrics) == set(run.data.metrics)
        for key in run.data.metrics:
            mine = prodml.metric_history(run.info.run_id, key, client=imported)
            assert _mine(mine) == _theirs(source.mlflow.get_metric_history(run.info.run_id, key))


def test_status_times_experiment_and_note_are_kept(source: Source, imported: Client) -> None:
    best = prodml.get_run(source.runs["best"], client=imported)
    assert (best.experiment, best.status, best.hypothesis) == (
        "churn",
        RunStatus.FINISHED,
        "deeper trees help",
    )
    ended = source.mlflow.get_run(source.runs["best"]).info.end_time
    assert best.ended_at is not None and best.ended_at.timestamp() * 1000 == pytest.approx(ended)
    assert prodml.get_run(source.runs["failed"], client=imported).status is RunStatus.FAILED
    going = prodml.get_run(source.runs["going"], client=imported)
    assert (going.experiment, going.status, going.ended_at) == ("fraud", RunStatus.RUNNING, None)


def test_the_run_artifacts_come_across_byte_for_byte(source: Source, imported: Client) -> None:
    artifacts = {a.name: a for a in imported.metadata.list_artifacts("run", source.runs["best"])}
    assert imported.read_blob(artifacts["summary.txt"].digest) == b"auc went up"
    assert imported.read_blob(artifacts["plots/curve.csv"].digest) == b"x,y\n1,2\n"
    assert "model-2/MLmodel" in artifacts


def test_registered_versions_keep_their_numbers_run_alias_and_stage(
    source: Source, imported: Client
) -> None:
    versions = prodml.list_model_versions("churn-model", client=imported)
    assert sorted(v.version for v in versions) == [1, 2]
    assert {v.run_id for v in versions} == {source.runs["best"]}
    assert {v.flavor for v in versions} == {"mlflow.sklearn"}
    assert prodml.get_model("churn-model@champion", client=imported).version == 2
    first = prodml.describe_model("churn-model@1", client=imported)
    assert {t.key: t.value for t in first.tags}["mlflow.stage"] == "Staging"
    assert first.version.needs_trust and first.version.environment["needs"] == ["mlflow"]
    assert [c["name"] for c in first.version.signature["columns"]] == COLUMNS
    downstream = prodml.downstream(source.runs["best"], client=imported)
    assert first.version.id in str(downstream)


def test_an_imported_model_predicts_through_its_mlflow_flavor(
    source: Source, imported: Client
) -> None:
    rows = pd.DataFrame(np.random.default_rng(7).random((20, 3)), columns=COLUMNS)
    predictor = prodml.load_predictor("churn-model@champion", client=imported)
    assert list(predictor.predict(rows)) == list(source.model.predict(rows))


def test_the_gateway_serves_an_imported_champion_through_its_flavor(
    source: Source, imported: Client
) -> None:
    import asyncio

    import httpx

    from prodml.serve.app import create_app
    from prodml.serve.gateway import Options

    rows = pd.DataFrame(np.random.default_rng(8).random((5, 3)), columns=COLUMNS)
    app = create_app(imported, ["churn-model"], Options(poll=0.05))

    async def scenario() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                body = {"records": rows.to_dict("records")}
                return await http.post("/v1/models/churn-model/predict", json=body)

    response = asyncio.run(scenario())
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["predictions"] == source.model.predict(rows).tolist()


def test_a_python_function_model_predicts_through_pyfunc(imported: Client) -> None:
    version = prodml.get_model("doubler", client=imported)
    assert (version.flavor, version.signature) == ("mlflow.python_function", {})
    rows = pd.DataFrame({"tenure": [1.0, 2.5], "charges": [0.0, 0.0], "calls": [0.0, 0.0]})
    assert list(prodml.load_predictor("doubler", client=imported).predict(rows)) == [2.0, 5.0]


def test_a_second_import_adds_only_what_is_new(source: Source, tmp_path: Path) -> None:
    shutil.copy(Path(source.uri.removeprefix("sqlite:///")), tmp_path / "copy.db")
    uri = f"sqlite:///{tmp_path / 'copy.db'}"
    client = _client(tmp_path / "home")
    first = prodml.import_mlflow(uri, client=client)
    assert (first.runs_imported, first.model_versions_imported, first.aliases_moved) == (3, 3, 1)
    points = first.metric_points

    copy = MlflowClient(tracking_uri=uri, registry_uri=uri)
    going = source.runs["going"]
    copy.log_metric(going, "recall", 0.4, timestamp=1_700_000_001_000, step=2)
    copy.set_terminated(going, "FINISHED")
    added = copy.create_run(copy.get_run(source.runs["best"]).info.experiment_id)
    copy.log_metric(added.info.run_id, "loss", 0.2, step=0)
    again = prodml.import_mlflow(uri, client=client)

    assert (again.runs_imported, again.runs_updated, again.runs_skipped) == (1, 1, 2)
    assert (again.model_versions_imported, again.model_versions_skipped) == (0, 3)
    assert again.aliases_moved == 0 and again.metric_points == 3
    assert len(prodml.list_runs(client=client)) == 4
    finished = prodml.get_run(going, client=client)
    assert finished.status is RunStatus.FINISHED and finished.metrics == {"recall": 0.4}
    store = client.metadata
    assert sum(store.count_metric_points(r.id) for r in store.list_runs()) == points + 2
    assert len(prodml.list_model_versions("churn-model", client=client)) == 2
    client.close()


def test_a_file_store_is_read_through_the_client_point_by_point(tmp_path: Path) -> None:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        files = MlflowClient(tracking_uri=str(tmp_path / "mlruns"))
        run = files.create_run(files.create_experiment("files"))
        _log_history(files, run.info.run_id)
        files.set_terminated(run.info.run_id)
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE")
    client = _client(tmp_path / "home")
    report = prodml.import_mlflow(f"file://{tmp_path / 'mlruns'}", client=client)
    assert (report.runs_imported, report.metric_points) == (1, 37)
    for key in ("loss", "auc", "grad"):
        mine = prodml.metric_history(run.info.run_id, key, client=client)
        assert _mine(mine) == _theirs(files.get_metric_history(run.info.run_id, key))
    client.close()


def test_a_uri_naming_no_store_is_refused_without_creating_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="No MLflow database"):
        prodml.import_mlflow(f"sqlite:///{tmp_path / 'none.db'}", client=_client(tmp_path))
    assert not (tmp_path / "none.db").exists()
    with pytest.raises(StoreError, match="Cannot reach the MLflow tracking server"):
        prodml.import_mlflow("http://127.0.0.1:9", client=_client(tmp_path))


def test_a_database_without_mlflow_tables_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    prodml_db = tmp_path / "prodml.db"
    Client(home=str(tmp_path / "home"), metadata_url=f"sqlite:///{prodml_db}").metadata.close()
    with pytest.raises(InvalidInputError, match="No MLflow tables"):
        prodml.import_mlflow(f"sqlite:///{prodml_db}", client=_client(tmp_path / "home"))
    with sqlite3.connect(prodml_db) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "runs" in tables and "experiments" not in tables


def test_a_postgresql_schema_without_mlflow_tables_is_refused(
    tmp_path: Path, postgres_url: str
) -> None:
    with pytest.raises(InvalidInputError, match="No MLflow tables"):
        prodml.import_mlflow(postgres_url, client=_client(tmp_path / "home"))


def _prodml(home: Path, *args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    command = [sys.executable, "-c", f"{code}from prodml.cli.main import run; run()", *args]
    result = subprocess.run(
        command,
        env={**kept, "PRODML_HOME": str(home), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_command_prints_one_line_with_the_next_step_on_a_bad_uri(tmp_path: Path) -> None:
    result = _prodml(tmp_path / ".prodml", "import", "mlflow", "ftp://nowhere")
    assert result.returncode == 1
    assert "is not an MLflow tracking URI" in result.stderr
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        db.execute("CREATE TABLE experiments (experiment_id INTEGER)")  # as MLflow's has
    without = "import sys; sys.modules['mlflow'] = None; "  # as where the extra is missing
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = _prodml(tmp_path / ".prodml", "import", "mlflow", uri, code=without)
    assert result.returncode == 1
    assert "pip install 'prodml[mlflow]'" in result.stderr
