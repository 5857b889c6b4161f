"""The CLI's read commands on the demo's store, start-up included, beside the start-up
of ``mlflow`` and ``dvc`` measured in the same run.

The commands that answer the loop's daily questions (``models list``, ``models
history``, ``lineage``, ``runs list``, ``alerts list``, ``changes``, ``incidents
list``, ``events``) each run as a user runs them: a fresh ``prodml`` process on the
store, timed by wall clock from start to exit, median of ``--repeats`` runs after one
untimed run. Goal: each at most 0.5 s. The anchors are ``mlflow --version``,
``mlflow --help`` and ``dvc --version`` from their throwaway venvs (``_anchor.py``).

The store is the one ``examples/demo.py`` builds. It is built once under
``~/.cache/prodml-bench/cli-demo`` (about 10 minutes) and reused; ``--rebuild``
builds it again (do so after a change to the store's schema), ``--store PATH``
measures any other store (e.g. the ``.prodml`` that ``make demo`` leaves).

    .venv/bin/python benchmarks/cli.py                # builds the store the first time
    .venv/bin/python benchmarks/cli.py --repeats 9
    .venv/bin/python benchmarks/cli.py --store .prodml --only prodml
"""

from __future__ import annotations

import argparse
import datetime
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _anchor import cache_root, ensure_anchor
from _harness import REPO, BenchmarkError, fmt_ratio, load_warning, print_table, prodml_env

GOAL_SECONDS = 0.5
MODEL = "late-arrivals"  # the demo's model
COMMANDS = [
    ["models", "list"],
    ["models", "history", MODEL],
    ["lineage", f"{MODEL}@champion"],
    ["runs", "list"],
    ["alerts", "list"],
    ["changes"],
    ["incidents", "list"],
    ["events"],
]
ANCHORS = [("mlflow", ["mlflow", "--version"]), ("mlflow", ["mlflow", "--help"]),
           ("dvc", ["dvc", "--version"])]  # fmt: skip
BUILT = ".demo-built"  # written beside the store once the demo has run


def prodml_command() -> list[str]:
    """``prodml`` as installed beside this interpreter, else ``python -m prodml.cli.main``."""
    script = Path(sys.executable).parent / "prodml"
    return [str(script)] if script.exists() else [sys.executable, "-m", "prodml.cli.main"]


def demo_store(rebuild: bool, attempts: int = 2) -> Path:
    """The demo's store under the cache folder, built by examples/demo.py if missing
    (again from scratch if the demo stops early, up to ``attempts`` times)."""
    folder = cache_root() / "cli-demo"
    home = folder / ".prodml"
    if (folder / BUILT).exists() and not rebuild:
        return home
    for attempt in range(1, attempts + 1):
        if folder.exists():
            subprocess.run(["rm", "-rf", str(folder)], check=True)
        folder.mkdir(parents=True)
        print(f"[store] building the demo's store in {folder} (examples/demo.py, ~10 min) ...")
        started = time.perf_counter()
        with (folder / "demo.log").open("w") as log:
            done = subprocess.run(
                [sys.executable, str(REPO / "examples" / "demo.py")], cwd=folder,
                env=prodml_env(home), stdout=log, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        took = time.perf_counter() - started
        state = "complete" if done.returncode == 0 else f"stopped early (exit {done.returncode})"
        print(f"[store] demo {state} after {took:.0f} s; log: {folder / 'demo.log'}")
        if done.returncode == 0 or attempt == attempts:
            break
    if not (home / "prodml.db").exists():
        raise BenchmarkError(f"the demo made no store; see {folder / 'demo.log'}")
    (folder / BUILT).write_text(f"{state}\n")
    return home


@dataclass(frozen=True)
class Timing:
    """Wall time (median and fastest) and the CPU time the process used (median): on a
    busy machine the wall time grows with the wait for a CPU, the CPU time hardly."""

    wall: float
    fastest: float
    cpu: float


def timed(args: Sequence[str], repeats: int, env: Mapping[str, str], cwd: Path) -> Timing:
    """``repeats`` fresh runs of a command, after one untimed run. Python writes its
    bytecode cache as on a user's machine (``pip install`` compiles an installed
    package; the untimed run compiles an editable one), even where the shell says not
    to (PYTHONDONTWRITEBYTECODE): compiling every module at each start is not start-up."""
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls, cpus = [], []
    for attempt in range(repeats + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(list(args), env=env, cwd=cwd, capture_output=True, check=False)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise BenchmarkError(
                f"{' '.join(args)} exited with {done.returncode}:\n"
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
        if attempt:
            walls.append(elapsed)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return Timing(statistics.median(walls), min(walls), statistics.median(cpus))


def store_figures(home: Path) -> str:
    """What the store holds, so the figures can be read against its size."""
    code = (
        "import prodml\n"
        "runs = prodml.list_runs(limit=100000)\n"
        "models = prodml.list_models()\n"
        "print(f'{len(runs)} runs, {sum(m.versions for m in models)} model versions, '\n"
        "      f'{len(prodml.list_datasets())} dataset versions, '\n"
        "      f'{len(prodml.events())} events, {len(prodml.list_alerts())} alerts, '\n"
        "      f'{len(prodml.list_incidents())} incidents')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=prodml_env(home), cwd=home.parent,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() or f"(could not count: {done.stderr.strip()[-300:]})"


def prodml_rows(home: Path, repeats: int, anchors: Mapping[str, Timing]) -> list[list[str]]:
    env = prodml_env(home, {"COLUMNS": "120"})
    mlflow, dvc = anchors.get("mlflow --version"), anchors.get("dvc --version")
    rows = []
    for args in COMMANDS:
        shown = f"prodml {' '.join(args)}"
        try:
            taken = timed([*prodml_command(), *args], repeats, env, home.parent)
        except BenchmarkError as error:
            print(f"{shown} failed: {error}")
            rows.append([shown, "failed", "-", "-", "-", "-", "-", "-", "NO"])
            continue
        rows.append([
            *cells(shown, taken),
            fmt_ratio(taken.wall / mlflow.wall if mlflow else None),
            fmt_ratio(taken.cpu / mlflow.cpu if mlflow else None),
            fmt_ratio(taken.wall / dvc.wall if dvc else None),
            f"<= {GOAL_SECONDS} s", "yes" if taken.wall <= GOAL_SECONDS else "NO",
        ])  # fmt: skip
    return rows


def cells(label: str, taken: Timing) -> list[str]:
    return [label, f"{taken.wall:.3f} s", f"{taken.fastest:.3f} s", f"{taken.cpu:.3f} s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per command")
    parser.add_argument("--store", type=Path, help="measure this store instead of the demo's")
    parser.add_argument("--rebuild", action="store_true", help="build the demo's store again")
    parser.add_argument("--only", choices=["prodml", "anchors"], help="measure one side")
    options = parser.parse_args()

    print(f"benchmarks/cli.py  {datetime.datetime.now().isoformat(timespec='seconds')}  "
          f"Python {platform.python_version()}  {platform.machine()}")  # fmt: skip
    home = None
    if options.only != "anchors":  # built first, so both sides are measured together
        home = options.store.resolve() if options.store else demo_store(options.rebuild)
        print(f"store: {home} ({store_figures(home)})")
    warning = load_warning()
    if warning:
        print(warning)
    rows: list[list[str]] = []
    anchors: dict[str, Timing] = {}
    if options.only != "prodml":
        for name, args in ANCHORS:
            anchor = ensure_anchor(name)
            taken = timed(args, options.repeats, anchor.environment(), Path.cwd())
            anchors[" ".join(args)] = taken
            rows.append([*cells(f"{' '.join(args)} ({anchor.version})", taken), *"-----"])
    if home is not None:
        rows += prodml_rows(home, options.repeats, anchors)
    print()
    print(f"start-up included, {options.repeats} runs each: wall median and fastest, CPU median")
    headers = ["command", "wall", "fastest", "cpu", "wall / mlflow --version",
               "cpu / mlflow --version", "wall / dvc --version", "goal (wall)", "met"]  # fmt: skip
    print_table(headers, rows)


if __name__ == "__main__":
    main()
