"""The code tracking.py runs in each tool's process: the same steps for prodml and
MLflow, each printing one JSON object of timings."""

# Both workers take argv: n_values n_runs workdir, and print one JSON object.
# Each first does an untimed warm-up run so that creating the store (schema,
# migrations) is not counted against the first timed figure.
PRODML_WORKER = """
import json, sys
from time import perf_counter

import prodml

n_values, n_runs = int(sys.argv[1]), int(sys.argv[2])
params = {f"p{j}": j for j in range(10)}
metrics = {f"m{j}": j / 10 for j in range(10)}
out = {}

with prodml.start_run("warmup", config={"lr": 0.1}, hypothesis="warm-up") as run:
    run.log_param("k", "v")
    run.log_metric("x", 0.0, step=0)

with prodml.start_run("bench", config={"lr": 0.1}, hypothesis="speed") as run:
    started = perf_counter()
    for i in range(n_values):
        run.log_metric("loss", 1.0 / (i + 1), step=i)
    out["metric_loop_s"] = perf_counter() - started
out["metric_total_s"] = perf_counter() - started
out["metric_values_stored"] = len(prodml.metric_history(run.id, "loss"))

started = perf_counter()
for r in range(n_runs):
    with prodml.start_run("bench-single", config={"lr": 0.1}, hypothesis="speed") as run:
        for name, value in params.items():
            run.log_param(name, value)
        for name, value in metrics.items():
            run.log_metric(name, value, step=0)
out["runs_single_s"] = perf_counter() - started

started = perf_counter()
for r in range(n_runs):
    with prodml.start_run("bench-batch", config={"lr": 0.1}, hypothesis="speed") as run:
        run.log_params(params)
        run.log_metrics(metrics, step=0)
out["runs_batch_s"] = perf_counter() - started
out["runs_stored"] = sum(len(prodml.list_runs(name)) for name in ("bench-single", "bench-batch"))
out["version"] = prodml.__version__
print(json.dumps(out))
"""

MLFLOW_WORKER = """
import json, sys
from pathlib import Path
from time import perf_counter

import mlflow

n_values, n_runs, workdir = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
params = {f"p{j}": j for j in range(10)}
metrics = {f"m{j}": j / 10 for j in range(10)}
out = {}

mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
mlflow.create_experiment("bench", artifact_location=(workdir / "artifacts").as_uri())
mlflow.set_experiment("bench")

with mlflow.start_run(run_name="warmup"):
    mlflow.log_params({"lr": 0.1})
    mlflow.log_metric("x", 0.0, step=0)

with mlflow.start_run(run_name="bench") as run:
    mlflow.log_params({"lr": 0.1})
    started = perf_counter()
    for i in range(n_values):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    out["metric_loop_s"] = perf_counter() - started
out["metric_total_s"] = perf_counter() - started
history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
out["metric_values_stored"] = len(history)

started = perf_counter()
for r in range(n_runs):
    with mlflow.start_run(run_name="bench-single"):
        for name, value in params.items():
            mlflow.log_param(name, value)
        for name, value in metrics.items():
            mlflow.log_metric(name, value, step=0)
out["runs_single_s"] = perf_counter() - started

started = perf_counter()
for r in range(n_runs):
    with mlflow.start_run(run_name="bench-batch"):
        mlflow.log_params(params)
        mlflow.log_metrics(metrics, step=0)
out["runs_batch_s"] = perf_counter() - started
out["version"] = mlflow.__version__
print(json.dumps(out))
"""

QUIET_MLFLOW = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false",
}
