"""Runs per second with several processes logging into one store at once.

Each process starts runs one after another, each run logging 10 params and 10
metrics with the batch calls, all processes against the same SQLite file. The
processes first import, open the store and do an untimed warm-up run, then say
"ready"; once all are ready they are told "go" at the same moment. The rate is the
runs all processes finished, divided by the time from the first start to the last
end. A run that raised (e.g. MLflow's "database is locked") is counted as failed,
not as done; the stored runs are counted in the database afterwards.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _anchor import Anchor
from _harness import BenchmarkError, last_json_line, prodml_env

# argv: n_runs; prints "ready", waits for a line on stdin, then one JSON line.
PRODML_RUNS = """
import json, sys, time
import prodml

n_runs = int(sys.argv[1])
params = {f"p{j}": j for j in range(10)}
metrics = {f"m{j}": j / 10 for j in range(10)}
with prodml.start_run("warmup", config={"lr": 0.1}, hypothesis="warm-up") as run:
    run.log_param("k", "v")
print("ready", flush=True)
sys.stdin.readline()
failed, errors = 0, []
started, cpu = time.time(), time.process_time()
for r in range(n_runs):
    try:
        with prodml.start_run("bench-batch", config={"lr": 0.1}, hypothesis="speed") as run:
            run.log_params(params)
            run.log_metrics(metrics, step=0)
    except Exception as error:
        failed, errors = failed + 1, errors + [str(error)[:200]]
ended = time.time()
print(json.dumps({"start": started, "end": ended, "failed": failed, "errors": errors[:3],
                  "cpu": time.process_time() - cpu,
                  "version": prodml.__version__}))
"""

MLFLOW_SETUP = """
import sys
from pathlib import Path
import mlflow

workdir = Path(sys.argv[1])
mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
mlflow.create_experiment("bench", artifact_location=(workdir / "artifacts").as_uri())
"""

MLFLOW_RUNS = """
import json, sys, time
from pathlib import Path
import mlflow

n_runs, workdir = int(sys.argv[1]), Path(sys.argv[2])
params = {f"p{j}": j for j in range(10)}
metrics = {f"m{j}": j / 10 for j in range(10)}
mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
mlflow.set_experiment("bench")
with mlflow.start_run(run_name="warmup"):
    mlflow.log_params({"lr": 0.1})
print("ready", flush=True)
sys.stdin.readline()
failed, errors = 0, []
started, cpu = time.time(), time.process_time()
for r in range(n_runs):
    try:
        with mlflow.start_run(run_name="bench-batch"):
            mlflow.log_params(params)
            mlflow.log_metrics(metrics, step=0)
    except Exception as error:
        failed, errors = failed + 1, errors + [str(error)[:200]]
        if mlflow.active_run() is not None:
            try:
                mlflow.end_run("FAILED")
            except Exception:
                pass
ended = time.time()
print(json.dumps({"start": started, "end": ended, "failed": failed, "errors": errors[:3],
                  "cpu": time.process_time() - cpu,
                  "version": mlflow.__version__}))
"""


@dataclass(frozen=True)
class Together:
    """Several processes' runs: how many finished, failed and were stored, and in what time."""

    processes: int
    runs: int
    failed: int
    stored: int
    seconds: float
    cpu: float  # seconds of CPU the processes used in all, their other threads included
    errors: tuple[str, ...]

    @property
    def rate(self) -> float:
        return (self.runs - self.failed) / self.seconds


def run_together(
    command: Sequence[str],
    n_runs: int,
    processes: int,
    *,
    env: Mapping[str, str],
    cwd: Path,
    extra: Sequence[str] = (),
) -> tuple[float, float, int, list[str]]:
    """Start ``processes`` copies of ``command`` (a worker above), wait until each is
    ready, tell them all to go; the wall time first start to last end, the CPU time
    of all, failures, errors."""
    workers = [
        subprocess.Popen(
            [*command, str(n_runs), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            if line.strip() != "ready":
                raise BenchmarkError(f"a worker did not start: {line!r} {worker.stderr.read()}")
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [_result(worker) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    errors = [text for r in results for text in r["errors"]]
    cpu = sum(float(r["cpu"]) for r in results)
    return seconds, cpu, sum(int(r["failed"]) for r in results), errors


def _result(worker: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = worker.communicate(timeout=1800)
    if worker.returncode != 0:
        raise BenchmarkError(f"a worker exited with {worker.returncode}\n{stderr[-4000:]}")
    return last_json_line(stdout)


def count_rows(database: Path, sql: str) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute(sql).fetchone()[0])


PRODML_STORED = "SELECT count(*) FROM runs WHERE experiment = 'bench-batch' AND status = 'finished'"
MLFLOW_STORED = "SELECT count(*) FROM runs WHERE status = 'FINISHED' AND name = 'bench-batch'"


def summary(
    processes: int, n_runs: int, timing: tuple[float, float, int, list[str]], stored: int
) -> Together:
    seconds, cpu, failed, errors = timing
    runs = processes * n_runs
    return Together(processes, runs, failed, stored, seconds, cpu, tuple(errors[:3]))


def describe(tool: str, together: Together) -> str:
    text = (
        f"{tool}, {together.processes} process(es) at once: {together.runs} runs in"
        f" {together.seconds:.3f} s ({1000 * together.cpu / together.runs:.2f} ms of CPU a run),"
        f" {together.failed} failed, {together.stored} stored"
    )
    if together.errors:
        text += f"; first error: {together.errors[0]!r}"
    return text


def prodml_together(processes: int, runs_each: int) -> Together:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-together-") as tmp:
        workdir = Path(tmp)
        home = workdir / ".prodml"
        timing = run_together(
            [sys.executable, "-c", PRODML_RUNS],
            runs_each,
            processes,
            env=prodml_env(home),
            cwd=workdir,
        )
        stored = count_rows(home / "prodml.db", PRODML_STORED)
    return summary(processes, runs_each, timing, stored)


def mlflow_together(
    anchor: Anchor, processes: int, runs_each: int, quiet: Mapping[str, str]
) -> Together:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-mlflow-together-") as tmp:
        workdir = Path(tmp)
        anchor.run_python(MLFLOW_SETUP, [str(workdir)], cwd=workdir, env=quiet)
        timing = run_together(
            [str(anchor.python), "-c", MLFLOW_RUNS],
            runs_each,
            processes,
            env=anchor.environment(quiet),
            cwd=workdir,
            extra=[str(workdir)],
        )
        stored = count_rows(workdir / "mlflow.db", MLFLOW_STORED)
    return summary(processes, runs_each, timing, stored)
