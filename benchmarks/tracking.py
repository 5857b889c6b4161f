"""Experiment tracking: prodml against MLflow (SQLite backend), in one run.

Figures, each measured for both tools in a fresh temporary folder:

a. metric values per second, one ``log_metric`` call per value, timed from the
   first call until the run's ``with`` block has exited (so the final flush is
   included);
b. runs per second, each run logging 10 params and 10 metrics, once with one
   call per value and once with the batch calls ``log_params`` / ``log_metrics``;
   and with the batch calls in 4 processes at once (``--processes``), each starting
   runs one after another against the same store (``_tracking_concurrent.py``);
c. ``import`` time: median of 5 fresh ``python -c "import X"`` less the median
   of 5 ``python -c "pass"``; and, for information, the same for
   ``import X; X.start_run`` (prodml imports its submodules lazily, on first use).

prodml runs in a subprocess of this interpreter with a fresh ``PRODML_HOME``;
MLflow runs in a throwaway venv (see ``_anchor.py``) against
``sqlite:///<tmp>/mlflow.db`` with artifacts in ``<tmp>/artifacts``.

    .venv/bin/python benchmarks/tracking.py           # full counts
    .venv/bin/python benchmarks/tracking.py --quick   # smaller counts, ~1 minute
    .venv/bin/python benchmarks/tracking.py --only-runs --repeats 3   # run rates only
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _tracking_concurrent as together
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
from _tracking_floor import floor_together
from _tracking_postgres import postgres_together
from _tracking_workers import MLFLOW_WORKER, PRODML_WORKER, QUIET_MLFLOW

METRIC_RATE_GOAL = 100_000.0
METRIC_RATIO_GOAL = 500.0
RUNS_RATIO_GOAL = 50.0
IMPORT_GOAL_SECONDS = 0.3
IMPORT_REPEATS = 5


@dataclass(frozen=True)
class Counts:
    prodml_values: int
    mlflow_values: int
    prodml_runs: int
    mlflow_runs: int
    processes: int = 4  # logging at once, each this many runs:
    prodml_runs_each: int = 500
    mlflow_runs_each: int = 50


FULL = Counts(prodml_values=200_000, mlflow_values=1_000, prodml_runs=500, mlflow_runs=50)
QUICK = Counts(
    prodml_values=20_000,
    mlflow_values=100,
    prodml_runs=100,
    mlflow_runs=10,
    prodml_runs_each=100,
    mlflow_runs_each=10,
)


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
    together: together.Together | None = None  # batch calls, several processes at once
    floor: together.Together | None = None  # bare sqlite3 doing prodml's writes, 1 process
    floor_together: together.Together | None = None  # ... and several at once


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


def measure_prodml(counts: Counts, only_runs: bool = False) -> Figures:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-tracking-") as tmp:
        workdir = Path(tmp)
        home = workdir / ".prodml"
        args = [str(counts.prodml_values), str(counts.prodml_runs), str(workdir)]
        raw = run_prodml_python(PRODML_WORKER, args, home=home, cwd=workdir)
    check_stored("prodml", raw, counts.prodml_values, 2 * counts.prodml_runs)
    at_once = together.prodml_together(counts.processes, counts.prodml_runs_each)
    floors = [floor(1, counts.prodml_runs), floor(counts.processes, counts.prodml_runs_each)]
    imports = (0.0, 0.0)
    if not only_runs:
        with tempfile.TemporaryDirectory(prefix="prodml-bench-import-") as tmp:
            workdir = Path(tmp)
            env = prodml_env(workdir / ".prodml")
            imports = import_and_first_use(sys.executable, "prodml", env=env, cwd=workdir)
    figures = figures_from(raw, counts.prodml_values, counts.prodml_runs, imports)
    return dataclasses.replace(figures, together=at_once, floor=floors[0], floor_together=floors[1])


def floor(processes: int, runs_each: int) -> together.Together:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-floor-") as tmp:
        home = Path(tmp) / ".prodml"
        return floor_together(sys.executable, prodml_env(home), home, processes, runs_each)


def measure_mlflow(anchor: Anchor, counts: Counts, only_runs: bool = False) -> Figures:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-mlflow-") as tmp:
        workdir = Path(tmp)
        args = [str(counts.mlflow_values), str(counts.mlflow_runs), str(workdir)]
        stdout = anchor.run_python(MLFLOW_WORKER, args, cwd=workdir, env=QUIET_MLFLOW)
        raw = last_json_line(stdout)
        check_stored("MLflow", raw, counts.mlflow_values, None)
        env = anchor.environment(QUIET_MLFLOW)
        imports = (0.0, 0.0)
        if not only_runs:
            imports = import_and_first_use(str(anchor.python), "mlflow", env=env, cwd=workdir)
    figures = figures_from(raw, counts.mlflow_values, counts.mlflow_runs, imports)
    at_once = together.mlflow_together(
        anchor, counts.processes, counts.mlflow_runs_each, QUIET_MLFLOW
    )
    return dataclasses.replace(figures, together=at_once)


def pick(figures: Figures | None, name: str) -> float | None:
    """A rate of ``figures`` by name: a field, or ``together_rate`` and the floors'."""
    if figures is None:
        return None
    if name in ("together_rate", "floor_rate", "floor_together_rate"):
        measured = getattr(figures, name.removesuffix("_rate"))
        return None if measured is None else float(measured.rate)
    return float(getattr(figures, name))


def summary_rows(prodml: Figures | None, mlflow: Figures | None, imports: bool = True) -> list[Row]:
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
    processes = next((f.together.processes for f in (prodml, mlflow) if f and f.together), 4)
    for name, label in (
        ("runs_single_rate", "runs/s, 10 params + 10 metrics, one call each"),
        ("runs_batch_rate", "runs/s, 10 params + 10 metrics, batch calls"),
        ("together_rate", f"runs/s, batch calls, {processes} processes at once"),
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
    rows += floor_rows(prodml, mlflow, processes)
    return rows + (import_rows(prodml, mlflow) if imports else [])


def floor_rows(prodml: Figures | None, mlflow: Figures | None, processes: int) -> list[Row]:
    """Bare sqlite3 doing prodml's writes, against MLflow's batch-call runs: how far
    any code on this machine could take the ratio."""
    rows = []
    for name, anchor_name, label in (
        ("floor_rate", "runs_batch_rate", "floor: bare sqlite3, prodml's writes, 1 process"),
        (
            "floor_together_rate",
            "together_rate",
            f"floor: bare sqlite3, prodml's writes, {processes} processes",
        ),
    ):
        floor_ratio = ratio(pick(prodml, name), pick(mlflow, anchor_name))
        rows.append(
            Row(
                label,
                fmt_rate(pick(prodml, name)),
                fmt_rate(pick(mlflow, anchor_name)),
                fmt_ratio(floor_ratio),
                "(for information)",
                None,
            )
        )
    return rows


def import_rows(prodml: Figures | None, mlflow: Figures | None) -> list[Row]:
    rows = []
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
    for name, measured in (
        ("", figures.together),
        (" floor", figures.floor),
        (" floor", figures.floor_together),
    ):
        if measured is not None:
            print(f"  {together.describe(tool + name, measured)}")


def median_figures(attempts: list[Figures]) -> Figures:
    """Each rate the median of the attempts (on a shared machine one attempt can be
    slowed by other work); the rest from the attempt with the median batch rate."""
    if len(attempts) == 1:
        return attempts[0]
    by_batch = sorted(attempts, key=lambda f: f.runs_batch_rate)
    middle = by_batch[len(by_batch) // 2]
    rates = {
        name: statistics.median(getattr(f, name) for f in attempts)
        for name in ("metric_rate", "metric_loop_rate", "runs_single_rate", "runs_batch_rate")
    }
    measured = {
        name: _median_of([getattr(f, name) for f in attempts])
        for name in ("together", "floor", "floor_together")
    }
    return dataclasses.replace(middle, **rates, **measured)


def _median_of(measured: list[together.Together | None]) -> together.Together | None:
    ranked = sorted((m for m in measured if m is not None), key=lambda m: m.rate)
    return ranked[len(ranked) // 2] if ranked else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument(
        "--only", choices=("prodml", "mlflow"), help="measure one tool and skip the ratios"
    )
    parser.add_argument(
        "--only-runs", action="store_true", help="skip the import times (rates only)"
    )
    parser.add_argument("--processes", type=int, default=4, help="processes logging at once")
    parser.add_argument(
        "--repeats", type=int, default=1, help="attempts per tool, alternating; medians shown"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also prodml's batch-call run rates on this PostgreSQL (a fresh schema each)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    counts = dataclasses.replace(QUICK if options.quick else FULL, processes=options.processes)
    print(
        f"tracking benchmark, {datetime.date.today().isoformat()}, Python"
        f" {platform.python_version()}, {platform.platform()}"
        + (" (quick)" if options.quick else "")
    )
    if warning := load_warning():
        print(warning)
    anchor = ensure_anchor("mlflow") if options.only != "prodml" else None
    if anchor is not None:
        print(f"MLflow {anchor.version} (anchor venv {anchor.root}), SQLite backend")
    mlflow_attempts: list[Figures] = []
    prodml_attempts: list[Figures] = []
    for _ in range(options.repeats):
        if anchor is not None:
            mlflow_attempts.append(measure_mlflow(anchor, counts, options.only_runs))
            print_detail("MLflow", mlflow_attempts[-1], counts.mlflow_values, counts.mlflow_runs)
        if options.only != "mlflow":
            prodml_attempts.append(measure_prodml(counts, options.only_runs))
            print_detail("prodml", prodml_attempts[-1], counts.prodml_values, counts.prodml_runs)
    mlflow = median_figures(mlflow_attempts) if mlflow_attempts else None
    prodml = median_figures(prodml_attempts) if prodml_attempts else None
    print()
    rows = summary_rows(prodml, mlflow, imports=not options.only_runs)
    headers = ["figure", "prodml", "MLflow", "prodml vs MLflow", "goal", "met"]
    print_table(headers, [row.cells() for row in rows])
    if options.postgres and options.only != "mlflow":
        print_postgres(options.postgres, counts)
    return 0


def print_postgres(url: str, counts: Counts) -> None:
    """prodml's batch-call run rates on PostgreSQL, for information."""
    print()
    for processes, runs_each in (
        (1, counts.prodml_runs),
        (counts.processes, counts.prodml_runs_each),
    ):
        measured = postgres_together(url, processes, runs_each)
        text = together.describe("prodml on PostgreSQL", measured)
        print(f"{text}: {measured.rate:,.0f} runs/s")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
