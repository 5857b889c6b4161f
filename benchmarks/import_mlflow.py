"""Importing an MLflow store: `prodml import mlflow` against copying the same data with
MLflow's own client into a second MLflow store.

The store (MLflow's SQLite backend) holds ``--runs`` runs of 10 params and 100 metrics
of 100 steps each (2,000 runs: 20 million metric points) and 50 registered model
versions of one scikit-learn model (5 names, 10 versions each, an alias on each
name's last). One run is logged with ``MlflowClient.log_batch`` and the others are
copies of its rows under new run ids, as ``run_search.py`` seeds MLflow.

- prodml: ``prodml import mlflow sqlite:///...`` in its own process into a fresh
  store (SQLite), start-up and store creation included.
- MLflow: what a team without prodml runs to move a store (MLflow's export/import
  tools do the same): for each run ``create_run``, ``log_batch`` of its params and
  tags, ``get_metric_history`` of each metric and ``log_batch`` of its points (1,000
  a call, MLflow's limit), ``set_terminated``; then each registered model, its versions
  and aliases. Copying every run takes over an hour at 2,000 runs, so the copy is
  timed on ``--anchor-runs`` of them (every run has the same shape) and scaled to all;
  the registry is copied whole. The second store is created before the clock starts.

Goal: the import >= 5x faster than the copy. Needs the ``mlflow`` extra::

    .venv/bin/python benchmarks/import_mlflow.py --runs 100    # about 3 min
    .venv/bin/python benchmarks/import_mlflow.py               # 2,000 runs, about 17 min
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

METRICS, STEPS, PARAMS = 100, 100, 10
MODELS, VERSIONS = 5, 10
PRODML = Path(sys.executable).parent / "prodml"
COPIED = ("runs", "params", "tags", "metrics", "latest_metrics")


def seed(folder: Path, runs: int) -> str:
    """The MLflow store: one logged run, its rows copied for the others, the registry."""
    import numpy as np
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("import-bench", str(folder / "artifacts"))
    template = client.create_run(experiment, run_name="run-0").info.run_id
    now = int(time.time() * 1000)
    points = [
        Metric(f"metric_{k}", float(np.sin(k + s / 10)), now + s, s)
        for k in range(METRICS)
        for s in range(STEPS)
    ]
    params = [Param(f"param_{k}", str(k * 0.1)) for k in range(PARAMS)]
    client.log_batch(template, params=params)
    for start in range(0, len(points), 1000):
        client.log_batch(template, metrics=points[start : start + 1000])
    client.set_terminated(template)
    _copy_rows(folder / "mlflow.db", template, runs)
    _registry(client, folder, template)
    return uri


def _copy_rows(path: Path, template: str, runs: int) -> None:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    # Seeding only: no journal, no fsync, a page cache that holds the indexes (MLflow's
    # metrics key leads with the metric name, so inserts land all over the tree).
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -2000000"):
        db.execute(f"PRAGMA {pragma}")
    shapes = {
        table: [
            dict(row)
            for row in db.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (template,))
        ]
        for table in COPIED
    }
    for start in range(1, runs, 100):
        for table, shape in shapes.items():
            rows = []
            for index in range(start, min(runs, start + 100)):
                run_id = uuid.UUID(int=index + 1).hex
                for row in shape:
                    new = dict(row, run_uuid=run_id)
                    if table == "runs":
                        new["name"] = f"run-{index}"
                        new["artifact_uri"] = row["artifact_uri"].replace(template, run_id)
                    elif table == "metrics" or table == "latest_metrics":
                        new["value"] = row["value"] + index
                    rows.append(tuple(new.values()))
            columns = ", ".join(shape[0])
            marks = ", ".join("?" * len(shape[0]))
            db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        db.commit()
        print(f"\r  seeded {min(runs, start + 100):,} of {runs:,} runs", end="", file=sys.stderr)
    print(file=sys.stderr)
    db.close()


def _registry(client: Any, folder: Path, run_id: str) -> None:
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rows = np.random.default_rng(0).random((100, 4))
    model = LogisticRegression().fit(rows, rows[:, 0] > 0.5)
    saved = folder / "model"
    mlflow.sklearn.save_model(model, str(saved), pip_requirements=["scikit-learn", "skops"])
    for index in range(MODELS):
        name = f"model-{index}"
        client.create_registered_model(name)
        for _ in range(VERSIONS):
            client.create_model_version(name, str(saved), run_id=run_id)
        client.set_registered_model_alias(name, "champion", str(VERSIONS))


def measure_prodml(uri: str, folder: Path) -> dict[str, Any]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    env = {**kept, "PRODML_HOME": str(folder / "prodml")}
    began = time.perf_counter()
    command = [str(PRODML), "import", "mlflow", uri, "--json"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - began
    report: dict[str, Any] = json.loads(result.stdout)
    return {"seconds": seconds, "report": report}


def measure_mlflow_copy(uri: str, folder: Path, sample: int) -> dict[str, Any]:
    """The copy of ``sample`` runs and the whole registry into a second store."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    source = MlflowClient(tracking_uri=uri, registry_uri=uri)
    target_uri = f"sqlite:///{folder / 'copy.db'}"
    target = MlflowClient(tracking_uri=target_uri, registry_uri=target_uri)
    experiment = target.create_experiment("import-bench", str(folder / "copy-artifacts"))
    origin = source.get_experiment_by_name("import-bench")
    runs = source.search_runs([origin.experiment_id], max_results=sample)
    began = time.perf_counter()
    mapped = {}
    for run in runs:
        info, data = run.info, run.data
        copy = target.create_run(experiment, start_time=info.start_time, run_name=info.run_name)
        tags = [RunTag(k, v) for k, v in data.tags.items() if k != "mlflow.runName"]
        params = [Param(k, v) for k, v in data.params.items()]
        target.log_batch(copy.info.run_id, params=params, tags=tags)
        for key in data.metrics:
            history = source.get_metric_history(info.run_id, key)
            points = [Metric(m.key, m.value, m.timestamp, m.step) for m in history]
            for start in range(0, len(points), 1000):
                target.log_batch(copy.info.run_id, metrics=points[start : start + 1000])
        target.set_terminated(copy.info.run_id, info.status, info.end_time)
        mapped[info.run_id] = copy.info.run_id
    runs_seconds = time.perf_counter() - began
    began = time.perf_counter()
    for registered in source.search_registered_models():
        target.create_registered_model(registered.name)
        for version in source.search_model_versions(f"name = '{registered.name}'"):
            location = source.get_model_version_download_uri(registered.name, version.version)
            run_id = mapped.get(version.run_id, next(iter(mapped.values())))
            target.create_model_version(registered.name, location, run_id=run_id)
        for alias, number in registered.aliases.items():
            target.set_registered_model_alias(registered.name, alias, number)
    registry_seconds = time.perf_counter() - began
    return {"runs": len(runs), "runs_seconds": runs_seconds, "registry_seconds": registry_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--anchor-runs", type=int, default=30, help="runs the MLflow copy times")
    options = parser.parse_args()
    import mlflow

    with tempfile.TemporaryDirectory(prefix="prodml-bench-import-") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        uri = seed(folder, options.runs)
        seeded = time.perf_counter() - began
        shape = f"{options.runs:,} runs, {options.runs * METRICS * STEPS:,} metric points"
        print(f"MLflow {mlflow.__version__}: seeded {shape} in {seeded:.0f} s", file=sys.stderr)
        prodml = measure_prodml(uri, folder)
        report = prodml["report"]
        copy = measure_mlflow_copy(uri, folder, min(options.anchor_runs, options.runs))
    copy_all = copy["runs_seconds"] / copy["runs"] * options.runs + copy["registry_seconds"]
    points = report["metric_points"]
    rate = points / prodml["seconds"]
    versions, aliases = report["model_versions_imported"], report["aliases_moved"]
    print(
        f"\nprodml import: {prodml['seconds']:.1f} s for {report['runs_imported']:,} runs, "
        f"{points:,} metric points ({rate:,.0f} points/s), {versions} model versions, "
        f"{aliases} aliases"
    )
    a_run = copy["runs_seconds"] / copy["runs"]
    print(
        f"MLflow copy: {copy['runs_seconds']:.1f} s for {copy['runs']} runs ({a_run:.2f} s a "
        f"run), registry {copy['registry_seconds']:.1f} s; all {options.runs:,} runs: "
        f"{copy_all:.0f} s"
    )
    ratio = copy_all / prodml["seconds"]
    print(f"ratio: {ratio:.1f}x (goal >= 5x: {'met' if ratio >= 5 else 'NOT met'})")
    expected = options.runs * METRICS * STEPS
    if points != expected or report["runs_imported"] != options.runs:
        raise SystemExit(f"the import stored {points:,} points, expected {expected:,}")


if __name__ == "__main__":
    main()
