"""Experiment tracking: prodml against MLflow (SQLite backend), in one run.

Figures, each measured for both tools in a fresh temporary folder:

a. metric values per second, one ``log_metric`` call per value, timed from the
   first call until the run's ``with`` block has exited (so the final flush is
   included);
b. runs per second, each run logging 10 params and 10 metrics, once with one
   call per value and once with the batch calls ``log_params`` / ``log_metrics``;
c. ``import`` time: median of 5 fresh ``python -c "import X"`` less the median
   of 5 ``python -c "pass"``; and, for information, the same for
   ``import X; X.start_run`` (prodml imports its submodules lazily, on first use).

prodml runs in a subprocess of this interpreter with a fresh ``PRODML_HOME``;
MLflow runs in a throwaway venv (see ``_anchor.py``) against
``sqlite:///<tmp>/mlflow.db`` with artifacts in ``<tmp>/artifacts``.

    .venv/bin/python benchmarks/tracking.py           # full counts
    .venv/bin/python benchmarks/tracking.py --quick   # smaller counts, ~1 minute
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _anchor import Anchor, ensure_anchor
from _harness import (
    Row,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    import_seconds,
    last_json_line,
    load_warning,
    print_table,
    prodml_env,
    ratio,
    run_prodml_python,
)

METRIC_RATE_GOAL = 100_000.0
METRIC_RATIO_GOAL = 500.0
RUNS_RATIO_GOAL = 50.0
IMPORT_GOAL_SECONDS = 0.3
IMPORT_REPEATS = 5

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


@dataclass(frozen=True)
class Counts:
    prodml_values: int
    mlflow_values: int
    prodml_runs: int
    mlflow_runs: int


FULL = Counts(prodml_values=200_000, mlflow_values=1_000, prodml_runs=500, mlflow_runs=50)
QUICK = Counts(prodml_values=20_000, mlflow_values=100, prodml_runs=100, mlflow_runs=10)


@dataclass(frozen=True)
class Figures:
    """One tool's figures; rates per second, import time in seconds."""

    metric_rate: float
    metric_loop_rate: float
    runs_single_rate: float
    runs_batch_rate: float
    import_s: float
    first_use_s: float
    version: str
    detail: dict[str, Any]


def figures_from(
    raw: dict[str, Any], n_values: int, n_runs: int, imports: tuple[float, float]
) -> Figures:
    return Figures(
        metric_rate=n_values / raw["metric_total_s"],
        metric_loop_rate=n_values / raw["metric_loop_s"],
        runs_single_rate=n_runs / raw["runs_single_s"],
        runs_batch_rate=n_runs / raw["runs_batch_s"],
        import_s=imports[0],
        first_use_s=imports[1],
        version=str(raw.get("version", "?")),
        detail=raw,
    )


def check_stored(tool: str, raw: dict[str, Any], values: int, runs: int | None) -> None:
    """Warn when a tool did not store what was logged: a fast figure would be meaningless."""
    if raw["metric_values_stored"] != values:
        print(f"warning: {tool} stored {raw['metric_values_stored']} of {values} metric values")
    if runs is not None and raw["runs_stored"] != runs:
        print(f"warning: {tool} stored {raw['runs_stored']} of {runs} runs")


def import_and_first_use(
    python: str, module: str, *, env: dict[str, str], cwd: Path
) -> tuple[float, float]:
    """Seconds to ``import module``, and to import it and resolve ``module.start_run``
    (prodml loads its submodules on first attribute use, so the second is what a
    script that logs anything pays)."""
    bare = import_seconds(python, f"import {module}", repeats=IMPORT_REPEATS, env=env, cwd=cwd)
    code = f"import {module}; {module}.start_run"
    first_use = import_seconds(python, code, repeats=IMPORT_REPEATS, env=env, cwd=cwd)
    return bare, first_use


def measure_prodml(counts: Counts) -> Figures:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-tracking-") as tmp:
        workdir = Path(tmp)
        home = workdir / ".prodml"
        args = [str(counts.prodml_values), str(counts.prodml_runs), str(workdir)]
        raw = run_prodml_python(PRODML_WORKER, args, home=home, cwd=workdir)
    check_stored("prodml", raw, counts.prodml_values, 2 * counts.prodml_runs)
    with tempfile.TemporaryDirectory(prefix="prodml-bench-import-") as tmp:
        workdir = Path(tmp)
        env = prodml_env(workdir / ".prodml")
        imports = import_and_first_use(sys.executable, "prodml", env=env, cwd=workdir)
    return figures_from(raw, counts.prodml_values, counts.prodml_runs, imports)


def measure_mlflow(anchor: Anchor, counts: Counts) -> Figures:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-mlflow-") as tmp:
        workdir = Path(tmp)
        args = [str(counts.mlflow_values), str(counts.mlflow_runs), str(workdir)]
        stdout = anchor.run_python(MLFLOW_WORKER, args, cwd=workdir, env=QUIET_MLFLOW)
        raw = last_json_line(stdout)
        check_stored("MLflow", raw, counts.mlflow_values, None)
        env = anchor.environment(QUIET_MLFLOW)
        imports = import_and_first_use(str(anchor.python), "mlflow", env=env, cwd=workdir)
    return figures_from(raw, counts.mlflow_values, counts.mlflow_runs, imports)


def summary_rows(prodml: Figures | None, mlflow: Figures | None) -> list[Row]:
    def pick(figures: Figures | None, name: str) -> float | None:
        return None if figures is None else float(getattr(figures, name))

    rows = []
    metric_ratio = ratio(pick(prodml, "metric_rate"), pick(mlflow, "metric_rate"))
    metric_met = None
    if prodml is not None and metric_ratio is not None:
        metric_met = prodml.metric_rate >= METRIC_RATE_GOAL and metric_ratio >= METRIC_RATIO_GOAL
    rows.append(
        Row(
            "metric values/s, one log_metric call per value",
            fmt_rate(pick(prodml, "metric_rate")),
            fmt_rate(pick(mlflow, "metric_rate")),
            fmt_ratio(metric_ratio),
            f">= {METRIC_RATE_GOAL:,.0f}/s and >= {METRIC_RATIO_GOAL:.0f}x",
            metric_met,
        )
    )
    for name, label in (
        ("runs_single_rate", "runs/s, 10 params + 10 metrics, one call each"),
        ("runs_batch_rate", "runs/s, 10 params + 10 metrics, batch calls"),
    ):
        runs_ratio = ratio(pick(prodml, name), pick(mlflow, name))
        rows.append(
            Row(
                label,
                fmt_rate(pick(prodml, name)),
                fmt_rate(pick(mlflow, name)),
                fmt_ratio(runs_ratio),
                f">= {RUNS_RATIO_GOAL:.0f}x",
                None if runs_ratio is None else runs_ratio >= RUNS_RATIO_GOAL,
            )
        )
    import_ratio = ratio(pick(mlflow, "import_s"), pick(prodml, "import_s"))
    rows.append(
        Row(
            "import time (median of 5, less interpreter start)",
            fmt_seconds(pick(prodml, "import_s")),
            fmt_seconds(pick(mlflow, "import_s")),
            fmt_ratio(import_ratio, "x faster"),
            f"prodml <= {IMPORT_GOAL_SECONDS} s",
            None if prodml is None else prodml.import_s <= IMPORT_GOAL_SECONDS,
        )
    )
    first_use_ratio = ratio(pick(mlflow, "first_use_s"), pick(prodml, "first_use_s"))
    rows.append(
        Row(
            "import + first use (X.start_run resolved)",
            fmt_seconds(pick(prodml, "first_use_s")),
            fmt_seconds(pick(mlflow, "first_use_s")),
            fmt_ratio(first_use_ratio, "x faster"),
            "(for information)",
            None,
        )
    )
    return rows


def print_detail(tool: str, figures: Figures, n_values: int, n_runs: int) -> None:
    detail = figures.detail
    print(
        f"{tool} {figures.version}: {n_values:,} metric values in"
        f" {detail['metric_total_s']:.3f} s ({detail['metric_loop_s']:.3f} s of calls,"
        f" {detail['metric_total_s'] - detail['metric_loop_s']:.3f} s to exit the run);"
        f" {n_runs} runs in {detail['runs_single_s']:.3f} s one call each,"
        f" {detail['runs_batch_s']:.3f} s batched; import {figures.import_s:.3f} s,"
        f" import + first use {figures.first_use_s:.3f} s"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument(
        "--only", choices=("prodml", "mlflow"), help="measure one tool and skip the ratios"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    counts = QUICK if options.quick else FULL
    print(
        f"tracking benchmark, {datetime.date.today().isoformat()}, Python"
        f" {platform.python_version()}, {platform.platform()}"
        + (" (quick)" if options.quick else "")
    )
    if warning := load_warning():
        print(warning)
    mlflow: Figures | None = None
    prodml: Figures | None = None
    if options.only != "prodml":
        anchor = ensure_anchor("mlflow")
        print(f"MLflow {anchor.version} (anchor venv {anchor.root}), SQLite backend")
        mlflow = measure_mlflow(anchor, counts)
        print_detail("MLflow", mlflow, counts.mlflow_values, counts.mlflow_runs)
    if options.only != "mlflow":
        prodml = measure_prodml(counts)
        print_detail("prodml", prodml, counts.prodml_values, counts.prodml_runs)
    print()
    rows = summary_rows(prodml, mlflow)
    headers = ["figure", "prodml", "MLflow", "prodml vs MLflow", "goal", "met"]
    print_table(headers, [row.cells() for row in rows])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
