"""Demo step: a small MLflow store made with the real MLflow, imported into prodml, and
its registered model predicting through its MLflow flavor. Skipped, saying why, when
the ``mlflow`` extra is not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import prodml

CLI = [sys.executable, "-m", "prodml.cli.main"]


def _store(folder: Path, rows: Any, features: list[str]) -> str:
    """Two MLflow runs with metric histories, a registered sklearn model with an alias."""
    import mlflow.sklearn
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("late-arrivals", str(folder / "artifacts"))
    x, y = rows[features].astype("float64"), rows["late"]
    for c in (0.1, 1.0):
        run = client.create_run(experiment, run_name=f"logistic C={c}")
        model = LogisticRegression(C=c, max_iter=300).fit(x, y)
        losses = [
            Metric("loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step) for step in range(20)
        ]
        client.log_batch(run.info.run_id, params=[Param("C", str(c))], metrics=losses)
        saved = folder / f"model-{c}"
        mlflow.sklearn.save_model(
            model, str(saved), input_example=x.head(3), pip_requirements=["scikit-learn", "skops"]
        )
        client.log_artifacts(run.info.run_id, str(saved), "model")
        client.set_terminated(run.info.run_id)
        if c == 1.0:
            client.create_registered_model("late-arrivals-mlflow")
            client.create_model_version(
                "late-arrivals-mlflow", f"{run.info.artifact_uri}/model", run_id=run.info.run_id
            )
            client.set_registered_model_alias("late-arrivals-mlflow", "champion", "1")
    return uri


def run(folder: Path, data: prodml.DatasetVersion, features: list[str]) -> None:
    print("\n=== 6c. Coming from MLflow: import an MLflow store, serve its model")
    try:
        import mlflow  # noqa: F401
    except ImportError:
        print("skipped: MLflow is not installed (pip install 'prodml[mlflow]')")
        return
    rows = prodml.load_table(data).to_pandas().head(5000)
    uri = _store(folder, rows, features)
    for _ in range(2):  # the second import finds everything already here
        print(f"$ prodml import mlflow {uri}", flush=True)
        subprocess.run([*CLI, "import", "mlflow", uri], check=True)
    predictor = prodml.load_predictor("late-arrivals-mlflow@champion")
    answers = predictor.predict(rows[features].astype("float64").head(8))
    print(f"{predictor.ref} ({predictor.version.flavor}) through mlflow.pyfunc: {answers}")
