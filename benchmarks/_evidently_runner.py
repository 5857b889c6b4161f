"""Run Evidently's data-drift preset for the drift benchmark, inside Evidently's own venv.

This script never imports prodml: the benchmark calls it with the Python of the
``evidently`` anchor (see ``_anchor.py``), built with
``ensure_anchor("evidently", "evidently pandas<3 pyarrow")``::

    <anchor python> benchmarks/_evidently_runner.py drift WORKDIR
    <anchor python> benchmarks/_evidently_runner.py speed PARQUET_FILE

``drift`` reads ``WORKDIR/jobs.json`` (a list of ``{"id", "reference", "current"}``
with Parquet paths relative to WORKDIR) and writes ``WORKDIR/results.json``.
Each job runs two reports (Evidently 0.7 API):

* ``DataDriftPreset()`` with every default: ``drifted_columns`` and ``columns`` come
  from its ``DriftedColumnsCount`` and ``ValueDrift`` metrics, and ``dataset_drift``
  is Evidently's dataset verdict, ``share of drifted columns >= drift_share`` (0.5):
  the rule of its ``DatasetDriftMetric`` and the test bound to ``DriftedColumnsCount``.
* ``DataDriftPreset(num_method="ks", cat_method="chisquare")`` on the columns that
  are not text: ``pvalue_alarm`` is True when any column's p-value (the ``ValueDrift``
  value; NaN, as for a constant column, counts as no alarm) is below 0.05, and
  ``pvalue_columns`` says how many columns had a p-value test. Without forcing,
  Evidently uses Wasserstein / Jensen-Shannon distances above 1000 rows.

Column types are Evidently's own inference: an object column of strings is
categorical, or text when over half of its values are distinct (text drift is a
slow domain classifier with no p-value); an int column with at most 10 distinct
values is categorical.

``speed`` loads one Parquet file, splits it into halves (reference first, current
second), times only ``Report([DataDriftPreset()]).run(current, reference)`` and
prints one JSON line to stdout. Progress and timings go to stderr.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

PVALUE_LEVEL = 0.05
VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
DRIFTED_COLUMNS = "evidently:metric_v2:DriftedColumnsCount"


def evidently_version() -> str:
    return version("evidently")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_preset(
    preset: DataDriftPreset, current: pd.DataFrame, reference: pd.DataFrame
) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """One drift report: DriftedColumnsCount value, ValueDrift value by column, text columns."""
    snapshot = Report([preset]).run(current, reference)
    metrics: list[dict[str, Any]] = snapshot.dict()["metrics"]
    counts = [m["value"] for m in metrics if m["config"]["type"] == DRIFTED_COLUMNS]
    if len(counts) != 1:
        raise RuntimeError(f"expected one DriftedColumnsCount metric, got {len(counts)}")
    scores = {
        m["config"]["column"]: float(m["value"])
        for m in metrics
        if m["config"]["type"] == VALUE_DRIFT
    }
    text_columns = list(snapshot.context.data_definition.get_text_columns())
    return {k: float(v) for k, v in counts[0].items()}, scores, text_columns


def drift_job(current: pd.DataFrame, reference: pd.DataFrame) -> dict[str, Any]:
    default = DataDriftPreset()
    counted, scores, text_columns = run_preset(default, current, reference)
    drifted = round(counted["count"])
    columns = len(scores)
    if counted["share"] > 0 and round(drifted / counted["share"]) != columns:
        raise RuntimeError(f"DriftedColumnsCount {counted} disagrees with {columns} columns")
    # Text columns (object columns over 50 % distinct) get a classifier-based test with no
    # p-value whatever num_method / cat_method say: leave them out of the p-value run.
    tested = [column for column in scores if column not in text_columns]
    pvalues: dict[str, float] = {}
    if tested:
        forced = DataDriftPreset(columns=tested, num_method="ks", cat_method="chisquare")
        _, pvalues, _ = run_preset(forced, current, reference)
    return {
        "dataset_drift": bool(counted["share"] >= default.drift_share),
        "drifted_columns": drifted,
        "columns": columns,
        "pvalue_alarm": any(p < PVALUE_LEVEL for p in pvalues.values() if not math.isnan(p)),
        "pvalue_columns": len(pvalues),
    }


def run_drift(workdir: Path) -> int:
    jobs: list[dict[str, str]] = json.loads((workdir / "jobs.json").read_text())
    references: dict[str, pd.DataFrame] = {}
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    for done, job in enumerate(jobs, start=1):
        try:
            ref_path = job["reference"]
            if ref_path not in references:
                references[ref_path] = pd.read_parquet(workdir / ref_path)
            current = pd.read_parquet(workdir / job["current"])
            results.append({"id": job["id"], **drift_job(current, references[ref_path])})
        except Exception as error:  # one bad job must not stop the others
            results.append({"id": job.get("id"), "error": f"{type(error).__name__}: {error}"})
        if done % 20 == 0 or done == len(jobs):
            elapsed = time.perf_counter() - started
            log(f"[evidently] {done}/{len(jobs)} jobs in {elapsed:.1f} s")
    output = {"evidently_version": evidently_version(), "results": results}
    (workdir / "results.json").write_text(json.dumps(output, indent=1) + "\n")
    failed = sum("error" in result for result in results)
    log(f"[evidently] wrote {workdir / 'results.json'} ({failed} failed jobs)")
    return 0


def run_speed(parquet_file: Path) -> int:
    started = time.perf_counter()
    frame = pd.read_parquet(parquet_file)
    loading = time.perf_counter() - started
    log(f"[evidently] loaded {frame.shape} from {parquet_file} in {loading:.1f} s")
    half = len(frame) // 2
    reference = frame.iloc[:half].reset_index(drop=True)
    current = frame.iloc[half:].reset_index(drop=True)
    del frame
    report = Report([DataDriftPreset()])
    started = time.perf_counter()
    snapshot = report.run(current, reference)
    seconds = time.perf_counter() - started
    drifted = snapshot.dict()["metrics"][0]["value"]
    log(f"[evidently] report run in {seconds:.1f} s; DriftedColumnsCount {drifted}")
    line = {
        "evidently_version": evidently_version(),
        "rows": half + len(current),
        "columns": len(current.columns),
        "seconds": round(seconds, 3),
    }
    print(json.dumps(line), flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("drift", "speed"):
        log("usage: _evidently_runner.py drift WORKDIR | speed PARQUET_FILE")
        return 2
    # SciPy and Evidently warn per column (e.g. divide by zero on constant columns).
    warnings.filterwarnings("ignore")
    if argv[0] == "drift":
        return run_drift(Path(argv[1]))
    return run_speed(Path(argv[1]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
