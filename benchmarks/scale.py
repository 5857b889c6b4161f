"""Scale: the prediction log on S3, many gateways on one store, and (with flags) the
scale figures of batch scoring and blobs.

1. The log on S3 (moto's server on loopback, ``tests/s3_server.py``) against a local
   folder holding a copy of the same files, both through
   ``prodml.predictions.query.query``. A day of ``--rows`` served rows of one model in
   a rollout (v3 champion, v4 candidate at 10%) from 3 hosts is written with
   prodml's ``write_segment`` as 15-minute segments of each host, then compacted by
   prodml's compaction on each side: one file an hour of every host (24 files), the
   replaced segments deleted (a run past the grace period). Queries: count, mean
   and p99 latency by version over the day, and the same over one hour (12:00-13:00).
   Goal: S3 within 3x of local. Beside it, without compaction: ``--live-minutes`` of
   1-second segments of another model from the same 3 hosts (an hour is 10,800
   objects, more than moto serves in this script's time: give ``--live-minutes 60``),
   queried over its hour before and after prodml's compaction of it. S3 requests are
   counted from moto's access log. For information, the same files read by DuckDB
   through an s3fs whose listings cache holds the folders' listings.
2. ``--gateways`` ``prodml serve`` processes (default 3) on one PostgreSQL store (a
   fresh schema): ``--rollbacks`` times a rollout is started and rolled back
   (``prodml.rollback``); the time from the call until every process's /healthz shows
   the routing version the rollback made (goal: p99 within 1 s). Then ``--failovers``
   times the process holding the rollout controller's lease is killed (SIGKILL) and
   the time until another holds it is measured (goal: within the lease's term and a
   quarter, the bound ``deploy/leases.py`` gives); a new process replaces the killed one.
3. ``--with-score``: ``scale_score.py`` (10M rows, ``--executor ray`` against one
   process; ``--score-args`` passes it arguments).
4. ``--with-blobs``: ``scale_blobs.py`` (``--blobs-args`` passes it arguments).

    .venv/bin/python benchmarks/scale.py                      # about 10 min on 2 CPUs
    .venv/bin/python benchmarks/scale.py --only log --live-minutes 60
    .venv/bin/python benchmarks/scale.py --only gateways --rollbacks 50
    .venv/bin/python benchmarks/scale.py --only none --with-score --with-blobs
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _harness import REPO, Row, load_warning, print_table

sys.path.insert(0, str(REPO / "tests"))
from s3_server import AWS_OVERRIDES, start_s3_server

HERE = Path(__file__).resolve().parent
QUERY_GOAL = 3.0  # S3 at most this many times local
ROLLBACK_GOAL = 1.0  # seconds until every gateway serves a rollback (p99)
FAILOVER_TERMS = 1.25  # another holds the lease within this many lease terms


def say(text: str) -> None:
    print(text, flush=True)


def log_figures(args: argparse.Namespace, work: Path) -> list[Row]:
    """Figure 1: queries on S3 against the same files in a local folder."""
    import _scale_log as scale

    with start_s3_server() as server:
        os.environ.update(server.env())
        side = Sides(
            url=f"s3://{server.create_bucket()}/predictions",
            local=work / "predictions",
            requests=scale.Requests(server.log),
            server=server.process.pid,
        )
        info: list[list[str]] = []
        rows = day_queries(args, side, info) + live_queries(args, side, info)
        say("")
        print_table(["for information", "S3", "local", "S3 requests"], info)
        say("")
    return rows


@dataclass
class Sides:
    """The log on S3 and its copy in a local folder."""

    url: str
    local: Path
    requests: Any  # _scale_log.Requests
    server: int  # moto's process id

    def write(self, traffic: Any, seconds: float, begin: float) -> int:
        """The traffic's segments written to S3 and copied into the local folder."""
        import _scale_log as scale

        from prodml.stores.log_places import open_log_files

        s3 = open_log_files(self.url)
        started = time.perf_counter()
        written = scale.write(s3, traffic, seconds, begin)
        took = time.perf_counter() - started
        copied = scale.copy_down(s3, traffic.model, self.local)
        say(
            f"{traffic.model}: {traffic.table.num_rows:,} rows in {written} segments of "
            f"{seconds:g} s from {len(scale.HOSTS)} hosts, on S3 in {took:.1f} s, "
            f"{copied} files copied"
        )
        return written

    def compact(self, model: str, what: str) -> list[str]:
        """prodml's compaction of ``model`` on each side: a row for information."""
        import _scale_log as scale

        counts: dict[str, int] = {}
        with self.requests.counted(counts):
            on_s3 = scale.compact(self.url, model)
        on_disk = scale.compact(self.local, model)
        for name, (seconds, report, deleted) in (("S3", on_s3), ("local", on_disk)):
            say(
                f"  compaction ({name}): {report.merged} segments into {report.written} "
                f"files, {report.rows:,} rows, {seconds:.1f} s; {deleted} replaced deleted"
            )
        return [
            f"compaction of {what}",
            f"{on_s3[0]:.1f} s",
            f"{on_disk[0]:.1f} s",
            scale.shown(counts),
        ]

    def query(
        self,
        model: str,
        hour: int | None,
        expected: dict[int, int],
        figure: str,
        repeats: int,
        s3_repeats: int | None = None,
        goal: bool = True,
    ) -> Row:
        """The query by version over the day or the hour, on S3 and on the local copy."""
        import _scale_log as scale

        since, until = scale.window(hour)
        sql = scale.sql_for(since, until)
        s3_repeats = s3_repeats or repeats
        # DuckDB's first query in a process costs 0.15-0.2 s more: charged to neither side
        scale.timed_query(self.local, sql, model, since, until, 1, None)
        on_s3 = scale.timed_query(self.url, sql, model, since, until, s3_repeats, self.requests)
        on_disk = scale.timed_query(self.local, sql, model, since, until, repeats, None)
        return _query_row(f"{figure} ({on_s3.files} files)", on_s3, on_disk, expected, goal)

    def phases(self, label: str, model: str, hour: int | None) -> list[str]:
        """A cold query on S3 by phase, and moto's CPU time for it (information)."""
        import _scale_log as scale

        since, until = scale.window(hour)
        sql = scale.sql_for(since, until)
        found = scale.cold_phases(self.url, sql, model, since, until, self.requests, self.server)
        total = sum(found.seconds.values())
        every = sum(sum(counts.values()) for counts in found.requests.values())
        each = 1000 * found.server_cpu / max(every, 1)
        cpu = f"moto's CPU {found.server_cpu:.2f} s ({each:.1f} ms a request)"
        say(f"  {label}, cold, by phase: {found.shown()}; {cpu}")
        return [f"{label}, cold, by phase: {found.shown()}", f"{total:.2f} s", "-", cpu]

    def routes(
        self, label: str, model: str, hour: int | None, expected: dict[int, int]
    ) -> list[list[str]]:
        import _scale_log as scale

        since, until = scale.window(hour)
        sql = scale.sql_for(since, until)
        return _routes(label, self.url, sql, model, since, until, self.requests, expected)


def day_queries(args: argparse.Namespace, side: Sides, info: list[list[str]]) -> list[Row]:
    """A day of rows in 15-minute segments of each host, compacted on each side (one
    file an hour of every host), queried over the day and over one hour."""
    import _scale_log as scale

    begin = scale.DAY_START.timestamp()
    day = scale.traffic(args.rows, scale.DAY_MODEL, begin, 86_400.0, seed=11)
    side.write(day, args.day_segment_minutes * 60.0, begin)
    info.append(side.compact(scale.DAY_MODEL, "the day's segments"))
    rows = []
    for label, hour in (("the day", None), ("one hour of the day", scale.HOUR)):
        expected = day.count(*scale.window(hour))
        rows.append(
            side.query(scale.DAY_MODEL, hour, expected, f"{label}, compacted", args.repeats)
        )
        info.append(side.phases(label, scale.DAY_MODEL, hour))
        if args.routes:
            info += side.routes(label, scale.DAY_MODEL, hour, expected)
    return rows


def live_queries(args: argparse.Namespace, side: Sides, info: list[list[str]]) -> list[Row]:
    """``--live-minutes`` of 1-second segments from each host, at the day's rate,
    queried over their hour before and after compaction."""
    import _scale_log as scale

    seconds = args.live_minutes * 60.0
    begin = scale.DAY_START.timestamp() + scale.HOUR * 3600.0
    rows = round(args.rows * seconds / 86_400.0)
    live = scale.traffic(rows, scale.LIVE_MODEL, begin, seconds, seed=12)
    written = side.write(live, 1.0, begin)
    expected = live.count(*scale.window(scale.HOUR))
    found = [
        side.query(
            scale.LIVE_MODEL,
            scale.HOUR,
            expected,
            f"{args.live_minutes} min of 1 s segments",
            args.repeats,
            s3_repeats=args.live_repeats,
            goal=False,
        )
    ]
    if args.routes:
        info += side.routes("1 s segments", scale.LIVE_MODEL, scale.HOUR, expected)
    info.append(side.compact(scale.LIVE_MODEL, f"the {written} 1 s segments"))
    found.append(
        side.query(
            scale.LIVE_MODEL, scale.HOUR, expected, "the same after compaction", args.repeats
        )
    )
    return found


def _routes(
    label: str,
    url: str,
    sql: str,
    model: str,
    since: datetime,
    until: datetime,
    requests: Any,
    expected: dict[int, int],
) -> list[list[str]]:
    """The same query by two other routes to the same files (information)."""
    import _scale_log as scale

    found = []
    for name, route in (
        ("DuckDB on s3fs, listing cached", scale.listing_cached_query),
        ("pyarrow dataset, sizes listed", scale.dataset_query),
    ):
        done = route(url, sql, model, since, until, requests)
        counted = {row["version"]: row["n"] for row in done.result}
        say(f"  {label}, {name}: {done.median:.2f} s, {scale.shown(done.requests)}, {counted}")
        if counted != expected:
            say(f"  RESULTS DIFFER: expected {expected}")
        found.append([f"{label}: {name}", f"{done.median:.2f} s", "-", scale.shown(done.requests)])
    return found


def _query_row(
    figure: str, on_s3: Any, on_disk: Any, expected: dict[int, int], goal: bool = True
) -> Row:
    import _scale_log as scale

    counted = {row["version"]: row["n"] for row in on_s3.result}
    right = scale.same_result(on_s3.result, on_disk.result) and counted == expected
    ratio = on_s3.cold / on_disk.median  # judged cold: a reader whose cache is empty
    requests = scale.total(on_s3.requests)
    say(
        f"{figure}: S3 {_times(on_s3.seconds)}, local {_times(on_disk.seconds)}; "
        f"{scale.shown(on_s3.requests)} ({requests / max(on_s3.files, 1):.1f} a file); "
        f"{sum(counted.values()):,} rows, {'same on both sides' if right else 'RESULTS DIFFER'}"
    )
    if not right:
        say(f"  S3: {on_s3.result}\n  local: {on_disk.result}\n  expected: {expected}")
    return Row(
        figure,
        f"{on_s3.cold:.2f} s cold ({requests:,} requests), {on_s3.warm:.2f} s warm",
        f"{on_disk.median:.3f} s",
        f"{ratio:.1f}x cold, {on_s3.warm / on_disk.median:.1f}x warm",
        f"<= {QUERY_GOAL:g}x" if goal else "-",
        (ratio <= QUERY_GOAL and right) if goal else None,
    )


def _times(seconds: list[float]) -> str:
    return "/".join(f"{s:.2f}" for s in seconds) + " s"


def gateway_figures(args: argparse.Namespace, work: Path) -> list[Row]:
    """Figure 2: rollbacks reaching every gateway, and the controller's failover."""
    import _scale_gateways as many

    rows: list[Row] = []
    names = iter(f"gw{number}" for number in range(1, 1000))
    with many.fresh_schema() as metadata_url:
        settings, client = many.prepare(work, metadata_url)
        started = time.perf_counter()
        gateways = [
            many.launch(work, next(names), settings, args.tick) for _ in range(args.gateways)
        ]
        try:
            gateways = [many.ready(g) for g in gateways]
            say(f"{len(gateways)} gateways ready in {time.perf_counter() - started:.1f} s")
            load = many.Load(gateways, args.traffic)
            done = many.rollbacks(client, gateways, args.rollbacks, say)
            every = many.summary(done.every)
            each = many.summary([t for times in done.reached for t in times])
            calls = many.summary(done.calls)
            all_champion = all(done.champion_after)
            rows.append(
                Row(
                    f"rollback served by all {len(gateways)} gateways ({args.rollbacks} rollbacks, "
                    f"{args.traffic:g} requests/s each)",
                    f"p50 {every['p50']:.3f} s, p99 {every['p99']:.3f} s, max {every['max']:.3f} s",
                    "-",
                    "-",
                    f"p99 <= {ROLLBACK_GOAL:g} s",
                    every["p99"] <= ROLLBACK_GOAL and all_champion,
                )
            )
            say(
                f"each gateway: p50 {each['p50']:.3f} s, p99 {each['p99']:.3f} s; the rollback "
                f"call itself p50 {calls['p50']:.3f} s, max {calls['max']:.3f} s; every gateway "
                f"served the champion after each: {all_champion}"
            )

            took: list[float] = []
            for number in range(args.failovers):
                seconds, killed, taker = many.failover(client, gateways, 30 * args.tick)
                took.append(seconds)
                say(f"  failover {number + 1}: {killed} killed, {taker} took it in {seconds:.2f} s")
                gateways = [g for g in gateways if g.name != killed]
                gateways.append(many.ready(many.launch(work, next(names), settings, args.tick)))
                load.add(gateways[-1])
            load.stop()
            say(f"traffic: {load.answered:,} requests answered, {len(load.failures)} failed")
            for failure in load.failures[:10]:
                say(f"  {failure}")
            bound = FAILOVER_TERMS * args.tick
            shown = ", ".join(f"{t:.2f}" for t in took)
            rows.append(
                Row(
                    f"controller failover after SIGKILL ({args.failovers} kills, "
                    f"term {args.tick:g} s)",
                    f"max {max(took):.2f} s ({shown})",
                    "-",
                    "-",
                    f"<= {bound:.2f} s (1.25 terms)",
                    max(took) <= bound,
                )
            )
        finally:
            for gateway in gateways:
                gateway.kill()
            client.close()
    return rows


def run_script(name: str, extra: str) -> None:
    command = [sys.executable, str(HERE / name), *shlex.split(extra)]
    say(f"$ {' '.join(command[1:])}")
    completed = subprocess.run(command, cwd=REPO, check=False)
    if completed.returncode:
        say(f"{name} exited with {completed.returncode}")


def versions() -> str:
    names = ("moto", "s3fs", "fsspec", "duckdb", "pyarrow", "psycopg")
    found = ", ".join(f"{name} {version(name)}" for name in names)
    return f"Python {platform.python_version()}, {found}, {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        choices=["log", "gateways", "none"],
        help="one figure (none: only the --with-* scripts)",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the day")
    parser.add_argument(
        "--day-segment-minutes",
        type=float,
        default=15.0,
        help="the day's segments before compaction (minutes of a host)",
    )
    parser.add_argument(
        "--live-minutes",
        type=int,
        default=2,
        help="minutes of 1-second segments from 3 hosts (60: the hour)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each query (median)")
    parser.add_argument(
        "--live-repeats", type=int, default=1, help="runs of the uncompacted query on S3 (slow)"
    )
    parser.add_argument(
        "--no-routes",
        dest="routes",
        action="store_false",
        help="skip the information rows of other routes to the same files",
    )
    parser.add_argument("--gateways", type=int, default=3)
    parser.add_argument("--rollbacks", type=int, default=20)
    parser.add_argument(
        "--traffic",
        type=float,
        default=20.0,
        help="predict requests a second to each gateway meanwhile",
    )
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument(
        "--tick",
        type=float,
        default=2.0,
        help="the gateways' controller tick and lease term (serve's default)",
    )
    parser.add_argument("--with-score", action="store_true", help="also run scale_score.py")
    parser.add_argument("--score-args", default="", help="arguments for scale_score.py")
    parser.add_argument("--with-blobs", action="store_true", help="also run scale_blobs.py")
    parser.add_argument("--blobs-args", default="", help="arguments for scale_blobs.py")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    warning = load_warning()
    if warning:
        say(warning)
    say(versions())
    say(f"started {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    for name in AWS_OVERRIDES:
        os.environ.pop(name, None)
    work = Path(tempfile.mkdtemp(prefix="prodml-scale-"))
    queries: list[Row] = []
    gateways: list[Row] = []
    started = time.perf_counter()
    try:
        if args.only in (None, "log"):
            queries = log_figures(args, work)
        if args.only in (None, "gateways"):
            gateways = gateway_figures(args, work)
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if queries or gateways:
        say(f"\n{versions()}; {time.perf_counter() - started:.0f} s")
    if queries:
        say(f"\nqueries of the log through query.query, medians of {args.repeats}:")
        headers = ["query", "S3 (moto)", "local folder", "S3 / local", "goal", "met"]
        print_table(headers, [r.cells() for r in queries])
    if gateways:
        say("\nmany gateways on one PostgreSQL store:")
        cells = [[r.figure, r.prodml, r.goal, r.cells()[-1]] for r in gateways]
        print_table(["figure", "measured", "goal", "met"], cells)
    if args.with_score:
        run_script("scale_score.py", args.score_args)
    else:
        say("batch scoring on Ray: see scale_score.py (--with-score), benchmarks/README.md")
    if args.with_blobs:
        run_script("scale_blobs.py", args.blobs_args)
    else:
        say("blobs on S3: see scale_blobs.py (--with-blobs), benchmarks/README.md")
    if warning:
        say(warning)


if __name__ == "__main__":
    main()
