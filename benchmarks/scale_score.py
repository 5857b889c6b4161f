"""Batch scoring at scale: ``prodml.score`` of a numeric table in one process against
the same call with ``executor="ray"`` on this machine's cores.

A table of ``--rows`` rows (default 10M) of ``--features`` float64 features and an
int64 id is logged once; a LogisticRegression fitted on 200,000 of its rows (a
DataFrame, so the model knows its feature names) is logged as a model version
(``--model forest``: a random forest of 30 trees instead, whose predict, unlike
the regression's BLAS and Arrow's decoding, runs on one core). The
store is then copied, so that each side logs its output into a store that has never
seen it (a profile already stored for the same content would be reused).

- local: ``prodml.score(model, dataset)``: load the table, predict and
  predict_proba through the Predictor, log the output (Parquet, digest, summary,
  profile, lineage).
- ray: the same with ``executor="ray"`` and ``--parts`` parts (default: the CPUs), on
  a local Ray started beforehand, its workers warmed (the start and the warm-up are
  timed and shown apart: a cluster that is already running pays neither).

Each side's time is split at the moment the last part is scored (the progress
callback): *scoring* (model, table, parts) and *logging* (everything after). The
outputs must be the same dataset version (the same content digest) and equal tables.

    .venv/bin/python benchmarks/scale_score.py                  # 10M rows, ~15 min
    .venv/bin/python benchmarks/scale_score.py --rows 1000000   # ~2 min
    .venv/bin/python benchmarks/scale_score.py --rows 2000000 --model forest
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from _harness import Row, fmt_ratio, fmt_seconds, load_warning, print_table

GOAL = 1.6  # ray at least this many times faster than one process


@dataclass
class Side:
    name: str
    total: float
    scoring: float
    output: Any

    @property
    def logging(self) -> float:
        return self.total - self.scoring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--parts", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--model", choices=["logistic", "forest"], default="logistic",
        help="forest: a random forest, whose predict runs on one core",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the stores' folder")
    args = parser.parse_args()
    warning = load_warning()
    if warning:
        print(warning)
    folder = Path(tempfile.mkdtemp(prefix="prodml-score-"))
    try:
        run(folder, args.rows, args.features, args.parts, args.model)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, rows: int, features: int, parts: int, kind: str) -> None:
    import prodml
    from prodml.client import Client

    print(versions())
    started = time.perf_counter()
    table = make_table(rows, features)
    first = Client(home=str(folder / "local"), user="bench")
    log_model(first, table, kind)
    prodml.log_dataset("events", table, client=first)
    first.close()
    del table
    shutil.copytree(folder / "local", folder / "ray")
    print(f"setup (table, model, logging the input): {time.perf_counter() - started:.1f} s")

    local = timed("local", folder / "local", "local", None)
    start, warm = start_ray()
    ray = timed("ray", folder / "ray", "ray", parts)
    same = local.output.output.id == ray.output.output.id
    equal = load(folder / "local", local).equals(load(folder / "ray", ray))
    report(
        f"{rows:,} rows x {features} features + id, {kind}", local, ray, start, warm, same and equal
    )


def make_table(rows: int, features: int) -> pa.Table:
    generator = np.random.default_rng(7)
    columns = {"id": pa.array(np.arange(rows, dtype=np.int64))}
    for i in range(features):
        columns[f"x{i}"] = pa.array(generator.normal(size=rows))
    return pa.table(columns)


def log_model(client: Any, table: pa.Table, kind: str) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import prodml

    sample = table.slice(0, min(200_000, table.num_rows)).drop_columns(["id"]).to_pandas()
    weights = np.linspace(-1, 1, sample.shape[1])
    noise = np.random.default_rng(8).normal(size=len(sample))
    labels = (sample.to_numpy() @ weights + noise > 0).astype(np.int64)
    if kind == "forest":
        model = RandomForestClassifier(30, max_depth=10, random_state=0).fit(sample, labels)
    else:
        model = LogisticRegression().fit(sample, labels)
    with prodml.start_run("fit", client=client) as run:
        run.log_model(model, "scorer", example=sample.head())


def timed(name: str, home: Path, executor: str, parts: int | None) -> Side:
    import prodml
    from prodml.client import Client

    client = Client(home=str(home), user="bench")
    scored: list[float] = []

    def progress(done: int, count: int) -> None:
        if done == count:
            scored.append(time.perf_counter())

    started = time.perf_counter()
    output = prodml.score(
        "scorer@1", "events@1", executor=executor, partitions=parts, progress=progress,
        client=client,
    )  # fmt: skip
    total = time.perf_counter() - started
    client.close()
    print(f"{name}: {total:.1f} s ({output.partitions} part(s))")
    return Side(name, total, scored[-1] - started, output)


def start_ray() -> tuple[float, float]:
    """Seconds to start a local Ray, then to warm one worker per CPU (each imports the
    libraries a scoring task imports: pandas, Parquet, scikit-learn, prodml's parts)."""
    import ray

    started = time.perf_counter()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    start = time.perf_counter() - started
    started = time.perf_counter()
    warm = ray.remote(_warm)
    ray.get([warm.remote() for _ in range(int(ray.cluster_resources().get("CPU", 1)))])
    return start, time.perf_counter() - started


def _warm() -> bool:
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401

    import prodml.predict.scoring_parts  # noqa: F401

    time.sleep(1)  # held, so that each CPU's task starts a worker of its own
    return True


def load(home: Path, side: Side) -> pa.Table:
    import prodml
    from prodml.client import Client

    client = Client(home=str(home), user="bench")
    try:
        return prodml.load_table(side.output.output, client=client)
    finally:
        client.close()


def report(what: str, local: Side, ray: Side, start: float, warm: float, same: bool) -> None:
    print()
    print(f"{what}; output adds {len(local.output.added)} columns")
    speedup = local.scoring / ray.scoring
    whole = local.total / ray.total
    cold = ray.total + start + warm
    table = [
        Row("scoring (model, table, parts)", fmt_seconds(local.scoring),
            fmt_seconds(ray.scoring), fmt_ratio(speedup), f">= {GOAL}x", speedup >= GOAL),
        Row("logging the output", fmt_seconds(local.logging), fmt_seconds(ray.logging),
            fmt_ratio(local.logging / ray.logging), "-", None),
        Row("end to end", fmt_seconds(local.total), fmt_seconds(ray.total), fmt_ratio(whole),
            f">= {GOAL}x", whole >= GOAL),
        Row("end to end, Ray start + warm-up", fmt_seconds(local.total), fmt_seconds(cold),
            fmt_ratio(local.total / cold), "-", None),
    ]  # fmt: skip
    print_table(["", "one process", "ray", "ratio", "goal", "met"], [r.cells() for r in table])
    print(f"Ray start {start:.1f} s, workers warmed in {warm:.1f} s")
    print(f"identical output (same version digest, equal tables): {same}")
    if not same:
        sys.exit(1)


def versions() -> str:
    names = ["ray", "scikit-learn", "pyarrow", "numpy"]
    found = ", ".join(f"{name} {version(name)}" for name in names)
    return f"Python {platform.python_version()}, {found}, {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
