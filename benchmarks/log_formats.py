"""The prediction log on object storage: prodml's segments against a table format.

On a moto S3 server (server mode, loopback) this measures, for each of

- ``segments``: prodml's layout, one Parquet object a flush written through s3fs,
  readers listing the hour's prefix (a compacted file's footer names what it replaces);
- ``delta``: a Delta Lake table (deltalake), one append commit a flush, partitioned by
  model/day/hour, commits made safe by conditional put (``aws_conditional_put=etag``);
- ``iceberg``: an Iceberg table (pyiceberg, SqlCatalog on PostgreSQL), one append a
  flush, partitioned by model and hour(ts);

1. write: ``--writers`` processes each flushing ``--rows`` rows every second for
   ``--seconds``: flush latency p50/p99, failed flushes, conflicts, rows lost;
2. read: count and mean latency by version over one hour, through DuckDB, on an hour of
   1-second flushes from 3 hosts (``--hours 1``: 10,800 flushes, written in bulk),
   before and after compaction;
3. compaction of that hour, with a reader process checking counts all along;
4. retention: the hour's day (100 days old) deleted.

    .venv/bin/python benchmarks/log_formats.py                # 60 s writes, 10,800 flushes
    .venv/bin/python benchmarks/log_formats.py --hours 0.25   # 2,700 flushes: ~45 min here
    .venv/bin/python benchmarks/log_formats.py --quick        # 10 s writes, 540 flushes: ~8 min
    .venv/bin/python benchmarks/log_formats.py --only segments,delta
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
import traceback
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import _log_formats_common as common
from _harness import load_warning, print_table
from _log_formats_common import BUCKET, HOSTS, batch, filesystem, moto_server, percentile
from _log_formats_stores import CHECK, Delta, Segments, Store

FORMATS = ("segments", "delta", "iceberg")
PACKAGES = ("duckdb", "pyarrow", "s3fs", "deltalake", "pyiceberg", "pyiceberg-core", "moto")


def make(name: str) -> Store:
    if name == "iceberg":
        from _log_formats_iceberg import Iceberg

        return Iceberg()
    return Delta() if name == "delta" else Segments(name.partition("-")[2] or "arrow")


def writer(name: str, host: int, seconds: int, rows: int, start: Any, out: Any) -> None:
    """One gateway host: a flush of ``rows`` rows every second, each tried until it is
    written (a failed try is counted); reports latencies and rows acknowledged."""
    store = make(name)
    latencies: list[float] = []
    failures = acknowledged = 0
    errors: list[str] = []
    start.wait()
    began = time.time()
    for flush in range(seconds):
        time.sleep(max(0.0, began + flush + 1 - time.time()))
        table = batch(host, flush, time.time(), rows)
        clock = time.perf_counter()
        for _ in range(20):
            try:
                store.append(table)
                acknowledged += table.num_rows
                break
            except Exception as problem:  # counted; the flush is tried again
                failures += 1
                errors.append(f"{type(problem).__name__}: {str(problem)[:200]}")
        latencies.append(time.perf_counter() - clock)
    out.put({"latencies": latencies, "failures": failures, "retries": store.retries,
             "rows": acknowledged, "errors": errors[:3]})  # fmt: skip


def reader(name: str, hour: datetime, stop: Any, done: Any, out: Any) -> None:
    """Counts the hour's rows and distinct row ids, again and again, until ``stop``;
    ``done`` holds the time the last finished read began."""
    store = make(name)
    seen: list[tuple[float, int, int, str]] = []
    while not stop.is_set():
        began = time.time()
        try:
            (count, distinct), *_ = store.scan(hour, CHECK)
            seen.append((began, count, distinct, ""))
        except Exception as problem:  # a reader's failure is a result here
            seen.append((began, -1, -1, f"{type(problem).__name__}: {str(problem)[:160]}"))
        done.value = began
    out.put(seen)


def objects(prefix: str) -> int:
    fs: Any = filesystem()
    return len(fs.find(f"{BUCKET}/{prefix}")) if fs.exists(f"{BUCKET}/{prefix}") else 0


def timed_scan(store: Store, hour: datetime, repeats: int) -> tuple[float, int, int]:
    """Median seconds of the hour's grouped query, the rows it counted and the S3
    requests one query made."""
    times, total, before = [], 0, common.requests()
    for _ in range(repeats):
        clock = time.perf_counter()
        result = store.scan(hour)
        times.append(time.perf_counter() - clock)
        total = sum(int(row[1]) for row in result)
    return statistics.median(times), total, sum(common.since(before).values()) // repeats


def write_phase(name: str, args: argparse.Namespace, result: dict[str, Any]) -> None:
    context = mp.get_context("spawn")
    start, out = context.Event(), context.Queue()
    before = common.requests()
    processes = [
        context.Process(target=writer, args=(name, host, args.seconds, args.rows, start, out))
        for host in range(args.writers)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # let every writer import its libraries first
    start.set()
    reports = [out.get(timeout=args.seconds * 20 + 120) for _ in processes]
    for process in processes:
        process.join()
    asked = sum(common.since(before).values())
    latencies = [x for report in reports for x in report["latencies"]]
    acknowledged = sum(report["rows"] for report in reports)
    ((count, distinct),) = make(name).scan(None, CHECK)
    flushes = len(latencies)
    result.update(
        flushes=flushes,
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        slow=sum(x > 1.0 for x in latencies),
        failures=sum(report["failures"] for report in reports),
        retries=sum(report["retries"] for report in reports),
        errors=[e for report in reports for e in report["errors"]][:3],
        acknowledged=acknowledged,
        lost=acknowledged - distinct,
        duplicated=count - distinct,
        objects_per_flush=objects(name.split("-")[0]) / max(flushes, 1),
        requests_per_flush=asked / max(flushes, 1),
    )
    if name == "delta":
        result["conflicts"] = Delta().conflicts()


def bulk_phase(store: Store, args: argparse.Namespace, result: dict[str, Any]) -> datetime:
    """An hour of 1-second flushes from HOSTS hosts, 100 days ago, written in bulk."""
    hour = datetime.fromtimestamp((time.time() // 3600 - 100 * 24) * 3600, UTC)
    base = hour.timestamp()
    seconds = round(args.hours * 3600)
    flushes = [
        (base + second + 1, batch(host, second, base + second + 1, args.rows, seed=1))
        for second in range(seconds)
        for host in range(HOSTS)
    ]
    clock = time.perf_counter()
    store.bulk(flushes)
    wait = time.perf_counter() - clock
    result.update(bulk_flushes=len(flushes), bulk_seconds=wait)
    result["hour_rows"] = sum(table.num_rows for _, table in flushes)
    return hour


def wait_read(done: Any, after: float) -> None:
    """Until the reader has finished a read begun after ``after``."""
    deadline = time.time() + 3600
    while done.value <= after and time.time() < deadline:
        time.sleep(0.1)


def compaction_phase(
    store: Store, hour: datetime, args: argparse.Namespace, result: dict[str, Any]
) -> None:
    """Compaction of the hour with a reader process counting its rows throughout. The
    replaced files are deleted once every read begun before the compaction's commit has
    ended (what prodml's grace period, 10 minutes, stands for), plus ``--grace``."""
    context = mp.get_context("spawn")
    stop, out, done = context.Event(), context.Queue(), context.Value("d", 0.0)
    process = context.Process(target=reader, args=(store.name, hour, stop, done, out))
    process.start()
    wait_read(done, time.time())
    before, clock = common.requests(), time.perf_counter()
    store.compact(hour)
    result["compact_seconds"] = time.perf_counter() - clock
    result["compact_requests"] = sum(common.since(before).values())
    wait_read(done, time.time())
    time.sleep(args.grace)
    clock = time.perf_counter()
    store.settle()
    result["settle_seconds"] = time.perf_counter() - clock
    wait_read(done, time.time())
    stop.set()
    seen = out.get(timeout=600)
    process.join()
    expected = result["hour_rows"]
    result.update(
        reads_during=len(seen),
        reads_wrong=sum(1 for _, c, d, e in seen if not e and (c != expected or d != expected)),
        reads_failed=sum(1 for *_, e in seen if e),
        reader_errors=sorted({e for *_, e in seen if e})[:2],
    )


def run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"format": name}
    store = make(name)
    store.drop()
    store.create()
    try:
        write_phase(name, args, result)
        hour = bulk_phase(store, args, result)
        for when in ("before", "after"):
            if when == "after":
                compaction_phase(store, hour, args, result)
            seconds, counted, asked = timed_scan(store, hour, args.repeats)
            result.update({f"read_{when}": seconds, f"read_{when}_requests": asked})
            result[f"read_{when}_ok"] = counted == result["hour_rows"]
            if name == "segments":  # DuckDB reading each file through s3fs: once, it is slow
                seconds, _, asked = timed_scan(make("segments-s3fs"), hour, 1)
                result.update({f"read_fsspec_{when}": seconds, f"fsspec_{when}_requests": asked})
        clock = time.perf_counter()
        store.prune(hour.date())
        result["prune_seconds"] = time.perf_counter() - clock
        ((gone, _),) = store.scan(hour, CHECK)
        ((kept, _),) = store.scan(None, CHECK)
        result["prune_ok"] = gone == 0 and kept == result["acknowledged"]
    except Exception as problem:  # reported in the table, the other formats still run
        result["error"] = f"{type(problem).__name__}: {str(problem)[:300]}"
        traceback.print_exc()
    finally:
        store.drop()
    return result


def cell(result: dict[str, Any], key: str, form: str = "{:.2f}") -> str:
    value = result.get(key)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "ok" if value else "WRONG"
    return form.format(value)


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.writers} writers x {args.seconds} s x {args.rows} rows a flush; "
          f"read/compaction on {round(args.hours * 3600) * HOSTS:,} flushes; "
          f"reads: median of {args.repeats}")  # fmt: skip
    rows = [
        ("flushes", "flushes", "{:,}"),
        ("flush p50 (s)", "p50", "{:.3f}"),
        ("flush p99 (s)", "p99", "{:.3f}"),
        ("flushes > 1 s", "slow", "{:,}"),
        ("failed tries", "failures", "{:,}"),
        ("retries (own loop)", "retries", "{:,}"),
        ("commits redone (Delta)", "conflicts", "{:,}"),
        ("rows lost", "lost", "{:,}"),
        ("rows duplicated", "duplicated", "{:,}"),
        ("S3 objects a flush", "objects_per_flush", "{:.1f}"),
        ("S3 requests a flush", "requests_per_flush", "{:.1f}"),
        ("bulk fill (s)", "bulk_seconds", "{:.1f}"),
        ("read 1 h before (s)", "read_before", "{:.2f}"),
        ("  S3 requests", "read_before_requests", "{:,}"),
        ("  DuckDB+fsspec (s)", "read_fsspec_before", "{:.2f}"),
        ("  its S3 requests", "fsspec_before_requests", "{:,}"),
        ("  counts right", "read_before_ok", ""),
        ("compaction (s)", "compact_seconds", "{:.2f}"),
        ("  S3 requests", "compact_requests", "{:,}"),
        ("delete replaced (s)", "settle_seconds", "{:.2f}"),
        ("reads during compaction", "reads_during", "{:,}"),
        ("  wrong counts", "reads_wrong", "{:,}"),
        ("  failed", "reads_failed", "{:,}"),
        ("read 1 h after (s)", "read_after", "{:.2f}"),
        ("  S3 requests", "read_after_requests", "{:,}"),
        ("  DuckDB+fsspec (s)", "read_fsspec_after", "{:.2f}"),
        ("  its S3 requests", "fsspec_after_requests", "{:,}"),
        ("  counts right", "read_after_ok", ""),
        ("prune a day (s)", "prune_seconds", "{:.2f}"),
        ("  log right after", "prune_ok", ""),
    ]
    table = [[label] + [cell(r, key, form) for r in results] for label, key, form in rows]
    print_table(["figure", *[r["format"] for r in results]], table)
    for r in results:
        for key in ("error", "errors", "reader_errors"):
            if r.get(key):
                print(f"{r['format']} {key}: {r[key]}")
    print("versions: " + ", ".join(f"{p} {installed(p)}" for p in PACKAGES))


def installed(package: str) -> str:
    try:
        return version(package)
    except Exception:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="seconds of writing")
    parser.add_argument("--hours", type=float, default=1.0, help="hours of flushes to read")
    parser.add_argument("--rows", type=int, default=200, help="rows a flush")
    parser.add_argument("--writers", type=int, default=HOSTS, help="writer processes")
    parser.add_argument("--repeats", type=int, default=3, help="timed reads per figure")
    parser.add_argument("--grace", type=float, default=3.0, help="seconds between steps")
    parser.add_argument("--only", default=",".join(FORMATS), help="formats, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10 s of writes, 0.05 h to read")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.hours, args.repeats, args.grace = 10, 0.05, 1, 1.0
    warning = load_warning()
    if warning:
        print(warning)
    results = []
    with moto_server():
        for name in args.only.split(","):
            print(f"-- {name}", flush=True)
            started = time.perf_counter()
            results.append(run(name, args))
            print(f"   {time.perf_counter() - started:.0f} s", flush=True)
    report(results, args)


if __name__ == "__main__":
    main()
