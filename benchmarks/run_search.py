"""Run search: prodml against MLflow on the same runs.

Seeds N runs (default 100,000), each with a config of 5 values, 10 params and 10
metrics of S steps (S = 10 by default: 10 million metric points in all), into:

- prodml on SQLite and on PostgreSQL (a fresh schema on ``--postgres``, dropped
  afterwards), written in bulk through the store's SQL layer (rows for runs,
  params and searchable values; metric points through ``write_batch``, which
  keeps each run's latest values as ``log_metric`` does);
- MLflow (sqlite backend, in the throwaway venv of ``_anchor.py``): one run is
  logged with ``MlflowClient.log_batch`` and the others are copied from its rows
  in bulk, with their own values, so the tables are what ``log_batch`` writes.
  MLflow has no config: its runs carry the config as params, as MLflow users log it.

Then times the search a person runs many times a day: a filter on a config value
and a metric, sorted by the metric, first page of 50 (``prodml.search_runs`` with
its total count; ``mlflow.search_runs`` in the venv). Prints p50 and p95 of each
and the ratio; goals: prodml <= 100 ms on each database and >= 10x faster than MLflow.

    .venv/bin/python benchmarks/run_search.py                  # 100,000 runs
    .venv/bin/python benchmarks/run_search.py --runs 10000     # a quick run

Importable: ``seed_prodml`` and ``time_prodml_search`` seed and measure a store
for other benchmarks (benchmarks/dashboard.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _anchor import ensure_anchor
from _harness import fmt_ratio, load_warning, print_table

from prodml.client import Client
from prodml.stores import driver
from prodml.stores.engine import normalise_url
from prodml.stores.postgres_schema import schema_url, throwaway_schema
from prodml.stores.run_values import config_rows, value_row

FILTER = "config.depth = 6 and metrics.auc > 0.8"
ORDER = "metrics.auc desc"
MLFLOW_FILTER = "params.depth = '6' and metrics.auc > 0.8"
MLFLOW_ORDER = "metrics.auc DESC"
PAGE = 50
PARAMS = 10
METRICS = ("auc", "loss", "precision", "recall", "f1", "logloss", "brier", "rmse", "mae", "lift")
GOAL_SECONDS = 0.100
GOAL_RATIO = 10.0
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK = 2_000  # runs per transaction while seeding

# The values of run ``index``: the same text runs here and in MLflow's venv.
GENERATOR = '''
import random

METRICS = ("auc", "loss", "precision", "recall", "f1", "logloss", "brier", "rmse", "mae", "lift")


def run_values(index, steps):
    """Config, params and metric histories of run ``index``; the last step of auc is
    uniform in [0.5, 1), and depth cycles through 2..12 (6 is one run in 11)."""
    rng = random.Random(index)
    config = {
        "depth": 2 + index % 11,
        "lr": (0.01, 0.03, 0.1, 0.3)[rng.randrange(4)],
        "model": {"name": ("xgb", "lgbm", "rf")[rng.randrange(3)], "trees": rng.randrange(50, 500)},
        "seed": index,
    }
    params = {f"p{k}": str(rng.randrange(1000)) for k in range(10)}
    metrics = {}
    for key in METRICS:
        final = 0.5 + rng.random() / 2
        metrics[key] = [final * (step + 1) / steps for step in range(steps)]
    return config, params, metrics


def flat(config, prefix=""):
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flat(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out
'''
_namespace: dict[str, Any] = {}
exec(GENERATOR, _namespace)
run_values: Callable[[int, int], tuple[dict[str, Any], dict[str, str], dict[str, list[float]]]]
run_values = _namespace["run_values"]


def _chunks(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def _bulk(connection: sa.Connection, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Rows into a table: COPY on PostgreSQL, one executemany on SQLite."""
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.cursor()
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns.split(",")))
    driver.execute_many(connection, f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def seed_prodml(client: Client, runs: int, steps: int, progress: bool = True) -> list[str]:
    """Write ``runs`` finished runs into the client's store in bulk, as the store keeps
    them (runs, params, searchable values, every metric point and each metric's latest
    point); return their ids."""
    store = client.metadata
    ids = [uuid.UUID(int=random.Random(i).getrandbits(128)).hex for i in range(runs)]
    started = time.time() - runs  # one a second, the newest just now
    for chunk in _chunks(runs, CHUNK):
        run_rows, params, values, points, latest = [], [], [], [], []
        for index in chunk:
            run_id = ids[index]
            config, run_params, metrics = run_values(index, steps)
            at = started + index
            document = json.dumps(config, sort_keys=True)
            run_rows.append(
                (
                    run_id,
                    "search-bench",
                    "finished",
                    "bench",
                    at,
                    at + 0.5,
                    f"run {index}",
                    document,
                    "{}",
                )
            )
            params += [(run_id, key, value) for key, value in run_params.items()]
            values += config_rows(run_id, config)
            values += [value_row(run_id, "param", key, value) for key, value in run_params.items()]
            for key, history in metrics.items():
                points += [(run_id, key, step, v, at) for step, v in enumerate(history)]
                latest.append((run_id, key, steps - 1, history[-1], at))
        with store.write() as connection:
            _bulk(
                connection,
                "runs",
                "id, experiment, status, author, started_at, ended_at,"
                " hypothesis, config, environment",
                run_rows,
            )
            _bulk(connection, "params", "run_id, key, value", params)
            _bulk(connection, "run_values", "run_id, kind, key, value, head, num", values)
            _bulk(connection, "metrics", "run_id, key, step, value, ts", points)
            _bulk(connection, "latest_metrics", "run_id, key, step, value, ts", latest)
        if progress:
            end = "" if sys.stderr.isatty() else "\n"
            print(f"\r  prodml: {chunk.stop:,} of {runs:,} runs", end=end, file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    if store.dialect == "postgresql":  # what autovacuum does after a bulk load
        with store.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("runs", "params", "run_values", "latest_metrics"):
                autocommit.exec_driver_sql(f"VACUUM ANALYZE {table}")
    return ids


def time_prodml_search(client: Client, repeats: int) -> tuple[list[float], Any]:
    """Wall seconds of each of ``repeats`` first-page searches (after two untimed ones)."""
    import prodml

    samples = []
    for attempt in range(repeats + 2):
        began = time.perf_counter()
        page = prodml.search_runs(FILTER, order_by=ORDER, limit=PAGE, client=client)
        if attempt >= 2:
            samples.append(time.perf_counter() - began)
    return samples, page


MLFLOW_WORKER = (
    GENERATOR
    + """
import json, sqlite3, sys, time, uuid
from pathlib import Path
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

runs, steps, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
workdir = Path(sys.argv[4])
filter_string, order = sys.argv[5], sys.argv[6]
uri = f"sqlite:///{workdir / 'mlflow.db'}"
mlflow.set_tracking_uri(uri)
client = MlflowClient()
known = client.get_experiment_by_name("search-bench")
reuse = known is not None
experiment = known.experiment_id if reuse else client.create_experiment(
    "search-bench", artifact_location=(workdir / "a").as_uri())

def logged(index):
    config, params, metrics = run_values(index, steps)
    run = client.create_run(experiment, run_name=f"run-{index}")
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        params=[Param(k, str(v)) for k, v in {**flat(config), **params}.items()],
        metrics=[Metric(k, v, now, s) for k, h in metrics.items() for s, v in enumerate(h)],
    )
    client.set_terminated(run.info.run_id)
    return run.info.run_id

began = time.perf_counter()
template = None if reuse else logged(0)
db = sqlite3.connect(workdir / "mlflow.db")
db.row_factory = sqlite3.Row

def rows(table):
    return [dict(r) for r in db.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (template,))]

shapes = {t: rows(t) for t in ("runs", "params", "metrics", "latest_metrics", "tags")}
for start in range(1 if not reuse else runs, runs, 2000):
    batch = {t: [] for t in shapes}
    for index in range(start, min(runs, start + 2000)):
        run_id = uuid.UUID(int=index + 1).hex
        config, params, metrics = run_values(index, steps)
        values = {k: str(v) for k, v in {**flat(config), **params}.items()}
        for table, shape in shapes.items():
            for row in shape:
                new = dict(row, run_uuid=run_id)
                if table == "runs":
                    new["name"] = f"run-{index}"
                    new["artifact_uri"] = row["artifact_uri"].replace(template, run_id)
                elif table == "params":
                    new["value"] = values[row["key"]]
                elif table == "metrics":
                    new["value"] = metrics[row["key"]][row["step"]]
                elif table == "latest_metrics":
                    new["value"] = metrics[row["key"]][-1]
                elif table == "tags" and row["key"] == "mlflow.runName":
                    new["value"] = f"run-{index}"
                batch[table].append(new)
    for table, new_rows in batch.items():
        if new_rows:
            columns = list(new_rows[0])
            marks = ", ".join("?" * len(columns))
            db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(r[c] for c in columns) for r in new_rows],
            )
    db.commit()
    print(f"\\r  mlflow: {min(runs, start + 2000):,} of {runs:,} runs", end="", file=sys.stderr)
print(file=sys.stderr)
seeded = None if reuse else time.perf_counter() - began
db.close()

samples = []
for attempt in range(repeats + 1):
    t0 = time.perf_counter()
    frame = mlflow.search_runs([experiment], filter_string=filter_string, order_by=[order],
                               max_results=50)
    if attempt >= 1:
        samples.append(time.perf_counter() - t0)
print(json.dumps({"samples": samples, "seed_s": seeded, "version": mlflow.__version__,
                  "first_page": [float(v) for v in frame["metrics.auc"]]}))
"""
)


def measure_mlflow(runs: int, steps: int, repeats: int, kept: Path | None) -> dict[str, Any]:
    anchor = ensure_anchor("mlflow")
    with tempfile.TemporaryDirectory(prefix="prodml-bench-search-mlflow-") as tmp:
        folder = kept or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        out = anchor.run_python(
            MLFLOW_WORKER,
            [str(runs), str(steps), str(repeats), str(folder), MLFLOW_FILTER, MLFLOW_ORDER],
            cwd=folder,
        )
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _postgres_schema(base: str, keep: Path | None) -> contextlib.AbstractContextManager[str]:
    """A URL to a fresh schema dropped afterwards; with ``--keep``, to the kept one (made
    if missing), left in place."""
    if keep is None:
        return throwaway_schema(base, "bench")
    name = f"bench_{keep.name}".replace("-", "_")
    if not name.isidentifier():
        raise SystemExit(f"{name!r} cannot name a PostgreSQL schema: choose another --keep")
    admin = sa.create_engine(normalise_url(base))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {name}")
    admin.dispose()
    return contextlib.nullcontext(schema_url(base, name))


def seeded_runs(client: Client) -> int:
    with client.metadata.read() as connection:
        found = driver.execute(
            connection, "SELECT count(*) FROM runs WHERE experiment = ?", ("search-bench",)
        )
    return int(found[0][0])


def measure_prodml(url: str, home: Path, runs: int, steps: int, repeats: int) -> dict[str, Any]:
    client = Client(home=str(home), metadata_url=url, artifact_url=str(home / "blobs"))
    try:
        began = time.perf_counter()
        kept = seeded_runs(client)
        if kept not in (0, runs):
            raise SystemExit(f"{url} holds {kept:,} benchmark runs, not {runs:,}: use a new --keep")
        if not kept:
            seed_prodml(client, runs, steps)
        seeded = time.perf_counter() - began if not kept else None
        samples, page = time_prodml_search(client, repeats)
        first = [run.metrics["auc"] for run in page.runs]
        return {"samples": samples, "seed_s": seeded, "total": page.total, "first_page": first}
    finally:
        client.close()


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=None, help="metric points in all")
    parser.add_argument("--repeats", type=int, default=30, help="timed prodml searches")
    parser.add_argument(
        "--mlflow-repeats", type=int, default=5, help="timed MLflow searches (each takes seconds)"
    )
    parser.add_argument("--postgres", default=POSTGRES, help="'' to skip PostgreSQL")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-prodml", action="store_true")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="a folder where the seeded stores stay (and a PostgreSQL schema named after it): "
        "a later run with the same --keep and --runs measures them again without seeding",
    )
    options = parser.parse_args()
    points = options.points or options.runs * len(METRICS) * 10
    steps = max(1, points // (options.runs * len(METRICS)))
    print(
        f"{options.runs:,} runs, {PARAMS} params and {len(METRICS)} metrics of {steps} "
        f"steps each ({options.runs * len(METRICS) * steps:,} points)"
    )
    print(f"prodml: {FILTER!r}, order {ORDER!r}; MLflow: {MLFLOW_FILTER!r}, {MLFLOW_ORDER!r}")
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="prodml-bench-search-") as tmp:
        folder = options.keep or Path(tmp)
        if not options.skip_prodml:
            url = f"sqlite:///{folder / 'sqlite' / 'prodml.db'}"
            figures["prodml SQLite"] = measure_prodml(
                url, folder / "sqlite", options.runs, steps, options.repeats
            )
        if options.postgres and not options.skip_prodml:
            with _postgres_schema(options.postgres, options.keep) as pg_url:
                figures["prodml PostgreSQL"] = measure_prodml(
                    pg_url, folder / "pg", options.runs, steps, options.repeats
                )
        if not options.skip_mlflow:
            figures["MLflow"] = measure_mlflow(
                options.runs,
                steps,
                options.mlflow_repeats,
                folder / "mlflow" if options.keep else None,
            )
    return _report(figures)


def _report(figures: dict[str, dict[str, Any]]) -> int:
    mlflow = figures.get("MLflow")
    rows = []
    for name, found in figures.items():
        p50, p95 = percentile(found["samples"], 0.5), percentile(found["samples"], 0.95)
        ratio = percentile(mlflow["samples"], 0.5) / p50 if mlflow and found is not mlflow else None
        meets = ""
        if found is not mlflow:
            ok = p95 <= GOAL_SECONDS and (ratio is None or ratio >= GOAL_RATIO)
            meets = "yes" if ok else "NO"
        same = ""
        if mlflow and found is not mlflow:
            same = "yes" if found["first_page"] == mlflow["first_page"] else "NO"
        seeding = "kept" if found["seed_s"] is None else f"{found['seed_s']:.0f} s"
        ratio_text = fmt_ratio(ratio) if ratio else "-"
        rows.append(
            [name, f"{p50 * 1000:.1f} ms", f"{p95 * 1000:.1f} ms", ratio_text, same, seeding, meets]
        )
    print_table(["search", "p50", "p95", "MLflow p50 / p50", "same page", "seeding", "goal"], rows)
    if mlflow:
        print(f"MLflow {mlflow['version']}; first page of {len(mlflow['first_page'])} runs")
    warning = load_warning()
    if warning:
        print(warning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
