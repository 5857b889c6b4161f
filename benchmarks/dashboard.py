"""The dashboard at scale: p95 server time of every page on a store seeded with
100,000 runs (10 params and 10 metrics each, 10 million metric points), 100 model
versions, 10 million logged predictions and a month of hourly monitor windows, on
SQLite and on PostgreSQL. Goal: every page's p95 <= 300 ms on both.

The pages are found from the app's routes when the script runs (every GET route of
``prodml.ui.app.create_app``), their path parameters filled with real ids and names
from the seeded store. Each page is requested once untimed, then ``--requests``
times through an in-process client; the figure is the server's own time, from the
``Server-Timing: app;dur=MS`` header the app puts on every response.

    .venv/bin/python benchmarks/dashboard.py --scale 0.01            # 1,000 runs, ~2 min
    .venv/bin/python benchmarks/dashboard.py                         # full scale, both stores
    .venv/bin/python benchmarks/dashboard.py --store sqlite --keep /tmp/dash   # seed once, reuse

PostgreSQL: a fresh database ``prodml_bench_<pid>`` is created at ``--postgres``
(default ``postgresql://postgres@127.0.0.1:5432/test``) and dropped at the end
(kept, and reused by name, with ``--keep``). Seeding is described in seed_scale.py.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _dashboard_pages import Timing, known_values, measure, pages
from _harness import load_warning, print_table
from seed_scale import Seeded, seed, stores_wanted

GOAL_MS = 300.0


def measure_store(seeded: Seeded, requests: int) -> list[Timing]:
    from starlette.testclient import TestClient

    from prodml.client import Client
    from prodml.ui.app import create_app

    client = Client(**seeded.settings)
    try:
        app = create_app(client)
        known = known_values(client.metadata.engine)
        found = pages(app.routes, known)
        timings = []
        with TestClient(app, raise_server_exceptions=False) as http:
            for page in found:
                started = time.perf_counter()
                timings.append(measure(http, page, requests))
                spent = time.perf_counter() - started
                print(f"  {page.path[:70]:<70} {spent:6.1f} s", flush=True)
        return timings
    finally:
        client.close()


def report(results: dict[str, list[Timing]]) -> bool:
    rows, met = [], True
    for store, timings in results.items():
        for timing in timings:
            if timing.page.missing:
                rows.append(
                    [store, timing.page.route, "-", "-", "-", f"skipped: {timing.page.missing}"]
                )
                continue
            failed = [status for status in timing.statuses if status >= 400]
            over = timing.p95 > GOAL_MS
            met = met and not over and not failed
            verdict = "OVER 300 ms" if over else "ok"
            if failed:
                verdict = f"HTTP {','.join(map(str, sorted(failed)))}"
            rows.append([
                store, timing.page.path[:60], f"{timing.p50:,.1f}", f"{timing.p95:,.1f}",
                f"{max(timing.server_ms, default=float('nan')):,.1f}",
                f"{timing.cpu_p50:,.1f}", verdict,
            ])  # fmt: skip
    headers = ["store", "page", "p50 ms", "p95 ms", "max ms", "CPU p50 ms", "verdict"]
    print_table(headers, rows)
    return met


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 100,000 runs ...")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--keep", type=Path, help="seed into (or reuse) this folder")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    print(
        f"dashboard benchmark, {datetime.date.today().isoformat()}, Python"
        f" {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs,"
        f" scale {options.scale:g}"
    )
    if warning := load_warning():
        print(warning)
    results: dict[str, list[Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="prodml-bench-dashboard-") as scratch:
        folder = options.keep or Path(scratch)
        for store in stores_wanted(options.store):
            with seed(
                store, folder, options.scale, options.postgres, keep=bool(options.keep)
            ) as seeded:
                print(f"{store}: {seeded.describe()}")
                results[store] = measure_store(seeded, options.requests)
    met = report(results)
    print(
        f"goal: every page's p95 server time <= {GOAL_MS:.0f} ms on "
        f"{' and '.join(results)} at scale {options.scale:g}: {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
