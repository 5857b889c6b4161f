"""How ``pipelines.py`` runs each side, every run a fresh process: the bare functions,
prodml in one process (``run_pipeline``), the ``prodml`` command, and ``dvc repro``.

Every process gets ``OMP_NUM_THREADS=1`` (scikit-learn's gradient boosting trains on
one core): the sweeps compare one trial at a time against two at once on two cores,
and every side trains the same way."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _anchor import Anchor
from _harness import BenchmarkError, last_json_line, prodml_env
from _pipelines_sched import Scheduling, run_watched

ONE_THREAD = {"OMP_NUM_THREADS": "1"}
QUIET_DVC = {"DVC_NO_ANALYTICS": "1", **ONE_THREAD}
PRODML = str(Path(sys.executable).with_name("prodml"))

BARE_WORKER = """
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
import pyarrow.parquet as pq
import steps
imported = time.perf_counter() - started
tree = json.loads(sys.argv[2])
seconds = {}

class NoRun:
    def log_metric(self, key, value, step=None):
        pass

def timed(name, call):
    begun = time.perf_counter()
    value = call()
    seconds[name] = time.perf_counter() - begun
    return value

loaded = timed("load", lambda: steps.load(pq.read_table(sys.argv[1]), **tree["load"]))
cleaned = timed("clean", lambda: steps.clean(loaded.to_pandas(), **tree["clean"]))
parts = timed("features", lambda: steps.features(cleaned, **tree["features"]))
model = timed(
    "train", lambda: steps.train(parts["train"], parts["valid"], run=NoRun(), **tree["train"])
)
metrics = timed("evaluate", lambda: steps.evaluate(model, parts["valid"]))
print(json.dumps({"seconds": time.perf_counter() - started, "import": imported,
                  "cpu": time.process_time() - cpu, "steps": seconds, "metrics": metrics}))
"""

PRODML_WORKER = """
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
import prodml

def run(overrides):
    begun, used = time.perf_counter(), time.process_time()
    result = prodml.run_pipeline("pipeline.yaml", overrides)
    return {"seconds": time.perf_counter() - begun, "cpu": time.process_time() - used,
            "ran": result.ran, "steps": {s.name: s.seconds for s in result.steps},
            "metrics": result.metrics}

first = run([])
first["seconds"], first["cpu"] = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"first": first, "again": run([]), "changed": run([sys.argv[1]])}))
"""

SETUP_WORKER = """
import sys
import prodml
import pyarrow.parquet as pq
prodml.log_dataset("flights", pq.read_table(sys.argv[1]), key="rownames")
"""


@dataclass(frozen=True)
class Timed:
    """A command's wall time, the CPU time of its process and the children it waited
    for, and how many of the machine's CPUs were busy on average meanwhile (all
    processes: its own and everyone else's)."""

    seconds: float
    cpu: float
    stdout: str = ""
    ran: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    busy: float = 0.0
    scheduling: Scheduling | None = None  # when watched: its processes' CPU and waiting


def cpu_ticks() -> tuple[int, int]:
    """Busy and total ticks of all CPUs since boot (Linux /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def busy_cpus(before: tuple[int, int], after: tuple[int, int]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return (os.cpu_count() or 1) * busy / total if total else 0.0


def timed_command(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = 1800,
    watch: bool = False,
) -> Timed:
    before, ticks = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_ticks()
    started = time.perf_counter()
    scheduling = None
    if watch:
        done, scheduling = run_watched(args, cwd=cwd, env=env, timeout=timeout)
    else:
        done = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    seconds = time.perf_counter() - started
    after, busy = resource.getrusage(resource.RUSAGE_CHILDREN), busy_cpus(ticks, cpu_ticks())
    if done.returncode != 0:
        shown = " ".join(str(a) for a in args)[:200]
        raise BenchmarkError(f"{shown} exited with {done.returncode}\n{done.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(seconds, cpu, stdout=done.stdout, busy=busy, scheduling=scheduling)


def bare(project: Path, flights: Path, tree: dict[str, Any]) -> Timed:
    """The five functions in one fresh process, values passed, nothing tracked."""
    args = [sys.executable, "-c", BARE_WORKER, str(flights), json.dumps(tree)]
    done = timed_command(args, cwd=project, env={**os.environ, **ONE_THREAD})
    return Timed(done.seconds, done.cpu, extra=last_json_line(done.stdout), busy=done.busy)


def setup_home(home: Path, project: Path, flights: Path) -> None:
    """A fresh store holding the flights table as the dataset ``flights``."""
    args = [sys.executable, "-c", SETUP_WORKER, str(flights)]
    timed_command(args, cwd=project, env=prodml_env(home, ONE_THREAD))


def in_process(home: Path, project: Path, change: str) -> dict[str, Any]:
    """``run_pipeline`` three times in one fresh process: the first run, the same again,
    then with ``change``."""
    args = [sys.executable, "-c", PRODML_WORKER, change]
    done = timed_command(args, cwd=project, env=prodml_env(home, ONE_THREAD))
    return last_json_line(done.stdout)


def cli(home: Path, project: Path, *args: str, watch: bool = False) -> Timed:
    """A ``prodml`` command with ``--json``; what ran, when it was a ``prodml run``."""
    environment = prodml_env(home, ONE_THREAD)
    done = timed_command([PRODML, *args, "--json"], cwd=project, env=environment, watch=watch)
    answer = json.loads(done.stdout)
    ran = tuple(s["name"] for s in answer.get("steps", ()) if not s.get("cached"))
    return Timed(
        done.seconds, done.cpu, ran=ran, extra=answer, busy=done.busy, scheduling=done.scheduling
    )


# -- DVC ---------------------------------------------------------------------


GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]


def git_init(folder: Path) -> None:
    """The project as a user keeps it: a git repository (a run records its commit)."""
    subprocess.run([*GIT, "init", "-q"], cwd=folder, check=True)
    git_commit(folder)


def git_commit(folder: Path) -> None:
    subprocess.run([*GIT, "add", "-A"], cwd=folder, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "project"], cwd=folder, check=True)


def dvc_init(anchor: Anchor, repo: Path) -> None:
    """A git repository with DVC, the flights file added and everything committed."""
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True)
    for command in (["init", "-q"], ["config", "core.analytics", "false"]):
        anchor.run_command(["dvc", *command], cwd=repo, env=QUIET_DVC)
    anchor.run_command(["dvc", "add", "-q", "flights.parquet"], cwd=repo, env=QUIET_DVC)
    git_commit(repo)


def dvc_repro(anchor: Anchor, repo: Path) -> Timed:
    done = timed_command(["dvc", "repro"], cwd=repo, env=anchor.environment(QUIET_DVC))
    ran = tuple(re.findall(r"Running stage '([\w-]+)'", done.stdout))
    return Timed(done.seconds, done.cpu, stdout=done.stdout, ran=ran, busy=done.busy)


def source_state(repo: Path) -> str:
    """The commit, and whether the working tree's src/ differs from it."""
    git = ["git", "-C", str(repo)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    changed = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    state = commit.stdout.strip() or "unknown"
    if changed.stdout.strip():
        files = len(changed.stdout.strip().splitlines())
        state += f" (working tree: {files} uncommitted paths under src/)"
    return state
