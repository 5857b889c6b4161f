"""The prediction log on S3 against the same files in a local folder (``scale.py``):
served rows in the log's layout, written as prodml's segments, compacted by prodml's
compaction, and queried through ``prodml.predictions.query.query``.

Rows: a template of served rows (the columns of ``layout.SERVED``, ``output``, the
shadow's columns, and ``inputs``, a struct of 4 floats), turned into a day of traffic
by ``_seed_log``'s segment maker (new ids, times spread over the day), then put in a
rollout: 90% answered by the champion v3, 10% by the candidate v4 (a little slower),
each row served by one of 3 hosts."""

from __future__ import annotations

import gc
import os
import re
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _seed_log import _segment

from prodml.predictions import compaction, query
from prodml.predictions.layout import SERVED, SHADOW_COLUMNS
from prodml.predictions.segments import write_segment
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

DAY_START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; the log's day folder 2026-03-02
HOSTS = ("gw_a", "gw_b", "gw_c")
INPUTS = ("x0", "x1", "x2", "x3")
CHAMPION, CANDIDATE, SHARE = 3, 4, 0.10
DAY_MODEL = "fraud"  # the day of compacted files
LIVE_MODEL = "fraud_live"  # the 1-second segments (a model of its own: no overlap)
HOUR = 12  # the hour of the one-hour window (12:00-13:00 UTC)
WRITERS = 16  # PUTs in flight while the log is written (setup, untimed)
# One line of moto's access log a request, colours and all.
_REQUEST = re.compile(rb'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|HEAD|DELETE) ')

BY_VERSION = """
SELECT version, count(*) AS n, avg(latency_ms) AS mean_ms,
       quantile_cont(latency_ms, 0.99) AS p99_ms
FROM predictions
WHERE ts >= TIMESTAMPTZ '{since}' AND ts < TIMESTAMPTZ '{until}'
GROUP BY version ORDER BY version
"""


def template(count: int = 10_000, seed: int = 5) -> pa.Table:
    """Served rows as a gateway writes them: every column of a served segment, typed."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {name: pa.nulls(count, kind) for name, kind in SERVED}
    columns["status"] = pa.array(["ok"] * count)
    columns["latency_ms"] = pa.array(1.0 + rng.gamma(2.0, 2.5, count))
    table = pa.table(columns)
    table = table.append_column("output", pa.array(rng.uniform(size=count)))
    for name, kind in SHADOW_COLUMNS:
        table = table.append_column(name, pa.nulls(count, kind))
    inputs = pa.StructArray.from_arrays(
        [pa.array(rng.normal(size=count)) for _ in INPUTS], names=list(INPUTS)
    )
    return table.append_column("inputs", inputs)


def traffic(rows: int, model: str, begin: float, seconds: float, seed: int) -> Traffic:
    """``rows`` served rows of ``model`` from ``begin`` (epoch s) over ``seconds``, in
    time order, in a rollout, each with the host that served it."""
    rng = np.random.default_rng(seed)
    table = _segment(template(), model, CHAMPION, begin, rows, rng)
    if seconds != 86_400.0:  # _segment spreads the rows over a day: squeeze them
        micros = table.column("ts").cast(pa.int64()).to_numpy()
        squeezed = begin * 1e6 + (micros - begin * 1e6) * (seconds / 86_400.0)
        table = table.set_column(
            table.schema.get_field_index("ts"), "ts",
            pa.array(squeezed.astype("int64"), pa.timestamp("us", tz="UTC")),
        )  # fmt: skip
    candidate = rng.uniform(size=rows) < SHARE
    rollout = uuid.uuid4().hex
    latency = table.column("latency_ms").to_numpy() * np.where(candidate, 1.15, 1.0)
    changed = {
        "version": pa.array(np.where(candidate, CANDIDATE, CHAMPION)),
        "assigned": pa.array(np.where(candidate, CANDIDATE, CHAMPION)),
        "variant": pa.array(np.where(candidate, "candidate", "champion")),
        "rollout_id": pa.array([rollout] * rows),
        "step": pa.array(np.full(rows, 1)),
        "latency_ms": pa.array(latency),
    }
    for name, column in changed.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index), column.cast(table[name].type))
    return Traffic(model, table, rng.integers(0, len(HOSTS), rows))


@dataclass
class Traffic:
    model: str
    table: pa.Table
    hosts: np.ndarray

    def segments(self, seconds: float, begin: float) -> Iterator[tuple[str, float, pa.Table]]:
        """The rows as each host flushes them every ``seconds``: (host, flush time,
        rows). A flush is named by the end of its interval (1-second segments, as a
        gateway's), or just before it (longer ones, so that each stays in its hour)."""
        stamps = self.table.column("ts").cast(pa.int64()).to_numpy() / 1e6
        slots = np.floor((stamps - begin) / seconds).astype(np.int64)
        keys = self.hosts.astype(np.int64) * (1 << 40) + slots
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        edges = np.flatnonzero(np.diff(ordered)) + 1
        for chunk in np.split(order, edges):
            host, slot = divmod(int(keys[chunk[0]]), 1 << 40)
            end = begin + (slot + 1) * seconds
            at = end if seconds <= 1 else end - 0.001
            yield HOSTS[host], at, self.table.take(pa.array(chunk))

    def count(self, since: datetime, until: datetime) -> dict[int, int]:
        stamps = self.table.column("ts")
        low = pa.scalar(since, stamps.type)
        high = pa.scalar(until, stamps.type)
        inside = pc.and_(pc.greater_equal(stamps, low), pc.less(stamps, high))
        versions = self.table.column("version").filter(inside).to_numpy()
        found, counts = np.unique(versions, return_counts=True)
        return {int(v): int(c) for v, c in zip(found, counts, strict=True)}


def write(log: LogFiles, traffic: Traffic, seconds: float, begin: float) -> int:
    """Write the traffic's segments with prodml's ``write_segment``, one host at a time
    (the host is in each name, from PRODML_HOST), many PUTs in flight."""
    written = 0
    by_host: dict[str, list[tuple[float, pa.Table]]] = {}
    for host, at, rows in traffic.segments(seconds, begin):
        by_host.setdefault(host, []).append((at, rows))
    previous = os.environ.get("PRODML_HOST")
    try:
        for host, flushes in by_host.items():
            os.environ["PRODML_HOST"] = host
            with ThreadPoolExecutor(WRITERS) as pool:
                done = pool.map(
                    lambda flush: write_segment(log, traffic.model, flush[1], at=flush[0]),
                    flushes,
                )
                written += sum(1 for _ in done)
    finally:
        if previous is None:
            os.environ.pop("PRODML_HOST", None)
        else:
            os.environ["PRODML_HOST"] = previous
    return written


class Requests:
    """S3 requests moto's server has answered, by method, from its access log."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def now(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for found in _REQUEST.finditer(self.log.read_bytes()):
            method = found.group(1).decode()
            counts[method] = counts.get(method, 0) + 1
        return counts

    @contextmanager
    def counted(self, into: dict[str, int]) -> Iterator[None]:
        before = self.now()
        yield
        after = self.now()
        into.update({k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)})


def total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def shown(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[k]:,} {k}" for k in sorted(counts))


@dataclass
class Timed:
    """Seconds of each repeat, the last result, and the S3 requests of one repeat."""

    seconds: list[float] = field(default_factory=list)
    result: list[dict[str, Any]] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    files: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cold(self) -> float:
        """The first repeat: on S3, with an empty local cache (a new reader host)."""
        return self.seconds[0]

    @property
    def warm(self) -> float:
        """The later repeats' median: on S3, the files' copies already in the cache (a
        new reader process on the same host: footers read again)."""
        return statistics.median(self.seconds[1:] or self.seconds)


def timed_query(
    place: str | Path, sql: str, model: str, since: datetime, until: datetime, repeats: int,
    requests: Requests | None,
) -> Timed:  # fmt: skip
    """``query.query`` on the log at ``place`` (a URL or folder, opened anew each time as
    a new reader does), ``repeats`` times; S3 requests counted on the first. On S3 the
    local cache of the log's files starts empty: the first repeat is a cold read. Each
    repeat starts after a full garbage collection: an S3 client left behind about 35,000
    objects in reference cycles, and the collection that freed them (0.2-0.3 s) fell
    into whichever later query ran then; a new reader process has no such garbage."""
    found = Timed(files=len(query.prediction_files(open_log_files(place), model, since, until)))
    remote = isinstance(place, str) and "://" in place
    cache = Path(tempfile.mkdtemp(prefix="prodml-scale-cache-")) if remote else None
    try:
        for attempt in range(repeats):
            gc.collect()  # earlier readers' garbage: a new reader process has none
            log = open_log_files(place, cache)
            counts: dict[str, int] = {}
            counting = requests is not None and attempt == 0
            # moto's log is read before and after the query, outside its time
            with requests.counted(counts) if requests and counting else nullcontext():
                started = time.perf_counter()
                table = query.query(log, sql, model, since, until)
                found.seconds.append(time.perf_counter() - started)
            if counting:
                found.requests = counts
            found.result = table.to_pylist()
    finally:
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
    return found


@dataclass
class Phases:
    """Where a cold query's time goes on S3: seconds, requests and this process's CPU
    seconds of each phase, and the CPU seconds moto's server spent meanwhile."""

    seconds: dict[str, float] = field(default_factory=dict)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    server_cpu: float = 0.0

    def shown(self) -> str:
        parts = []
        for name, took in self.seconds.items():
            counted = total(self.requests.get(name, {}))
            detail = [f"{counted} requests"] if counted else []
            if name in self.cpu:
                detail.append(f"CPU {self.cpu[name]:.2f} s")
            parts.append(f"{name} {took:.2f} s" + (f" ({', '.join(detail)})" if detail else ""))
        return ", ".join(parts)


def cold_phases(
    url: str, sql: str, model: str, since: datetime, until: datetime, requests: Requests,
    server: int,
) -> Phases:  # fmt: skip
    """One cold query (a new reader, an empty cache) through ``query.query``, timed by
    phase: the S3 client's set-up (s3fs's session: botocore loads its S3 model, once a
    process), the listings, footers, the files' copies, and the rest (DuckDB), with this
    process's CPU time in each (its event loop's thread included). ``server`` is the
    process id of moto's server; CPU times are read from /proc."""
    cache = Path(tempfile.mkdtemp(prefix="prodml-scale-cache-"))
    found = Phases()
    log: Any = open_log_files(url, cache)
    counting: list[float] = []

    def timed(name: str, method: str) -> None:
        original = getattr(log, method)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts: dict[str, int] = {}
            entered = time.perf_counter()
            with requests.counted(counts):  # reads moto's log: not the query's time
                started, cpu = time.perf_counter(), _cpu_seconds(os.getpid())
                result = original(*args, **kwargs)
                took = time.perf_counter() - started
                found.cpu[name] = found.cpu.get(name, 0.0) + _cpu_seconds(os.getpid()) - cpu
            counting.append(time.perf_counter() - entered - took)
            found.seconds[name] = found.seconds.get(name, 0.0) + took
            for kind, count in counts.items():
                mine = found.requests.setdefault(name, {})
                mine[kind] = mine.get(kind, 0) + count
            return result

        setattr(log, method, wrapper)

    try:
        gc.collect()
        server_cpu = _cpu_seconds(server)
        started, cpu = time.perf_counter(), _cpu_seconds(os.getpid())
        log.fs.connect()
        found.seconds["client set-up"] = time.perf_counter() - started
        found.cpu["client set-up"] = _cpu_seconds(os.getpid()) - cpu
        for name, method in (
            ("listings", "folder_lists"),
            ("listings", "listings"),
            ("footers", "footers"),
            ("files", "local_paths"),
        ):
            timed(name, method)
        started = time.perf_counter()
        query.query(log, sql, model, since, until)
        whole = time.perf_counter() - started - sum(counting)
        found.seconds["DuckDB and the rest"] = whole - sum(
            v for k, v in found.seconds.items() if k != "client set-up"
        )
        found.server_cpu = _cpu_seconds(server) - server_cpu
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return found


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listing_cached_query(
    url: str, sql: str, model: str, since: datetime, until: datetime, requests: Requests
) -> Timed:
    """For information: the same files and views as ``query.connect``, DuckDB reading
    them through an s3fs whose listings cache holds the day folders' listings (one
    LIST each), so that DuckDB's calls for a file's size and time need no request."""
    import duckdb
    import fsspec

    from prodml.predictions.views import create_predictions

    found = Timed()
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with requests.counted(counts):
        files = query.prediction_files(open_log_files(url), model, since, until)
        fs = fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=True)
        for folder in sorted({f.rsplit("/", 1)[0] for f in files}):
            fs.ls(folder.removeprefix("s3://"), detail=True)
        connection = duckdb.connect()
        connection.register_filesystem(fs)
        create_predictions(connection, files)
        found.result = connection.sql(sql).to_arrow_table().to_pylist()
        connection.close()
    found.seconds.append(time.perf_counter() - started)
    found.requests, found.files = counts, len(files)
    return found


def dataset_query(
    url: str, sql: str, model: str, since: datetime, until: datetime, requests: Requests
) -> Timed:
    """For information: the read path the log's design names (benchmarks/README.md,
    log_formats.py): the same listed files as a pyarrow dataset on pyarrow's own S3
    client, each file's size taken from the listing (no HEAD), scanned by DuckDB. The
    files here are served segments of one schema, so the view is the dataset itself."""
    import duckdb
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    found = Timed()
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with requests.counted(counts):
        files = open_log_files(url)
        keys = {files.key_of(path) for path in query.prediction_files(files, model, since, until)}
        sizes = {
            entry.key: entry.size
            for folder in sorted({key.rsplit("/", 1)[0] for key in keys})
            for entry in files.files(folder)
            if entry.key in keys
        }
        s3 = pafs.S3FileSystem(
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            endpoint_override=os.environ["AWS_ENDPOINT_URL"],
        )
        root = url.removeprefix("s3://").rstrip("/")
        parquet = ds.ParquetFileFormat()
        fragments = [
            parquet.make_fragment(f"{root}/{key}", s3, file_size=size)
            for key, size in sorted(sizes.items())
        ]
        dataset = ds.FileSystemDataset(fragments, fragments[0].physical_schema, parquet, s3)
        connection = duckdb.connect()
        connection.register("predictions", dataset)
        found.result = connection.sql(sql).to_arrow_table().to_pylist()
        connection.close()
    found.seconds.append(time.perf_counter() - started)
    found.requests, found.files = counts, len(fragments)
    return found


def compact(place: str | Path, model: str) -> tuple[float, compaction.CompactionReport, int]:
    """prodml's compaction of every segment of ``model`` (``older_than=0``), then a
    second run that deletes the replaced files (``grace=0``), as a run past the grace
    period would: the seconds of the first run, its report, and files deleted."""
    started = time.perf_counter()
    report = compaction.compact(place, model, older_than=0.0, grace=3600.0)
    seconds = time.perf_counter() - started
    deleted = compaction.compact(place, model, older_than=0.0, grace=0.0).deleted
    return seconds, report, deleted


def copy_down(log: Any, model: str, folder: Path) -> int:
    """Copy ``model``'s files from the S3 log into the same keys under ``folder``; how
    many files."""
    target = folder / model
    shutil.rmtree(target, ignore_errors=True)
    keys = [
        entry.key
        for day in log.folders(model)
        for entry in log.files(f"{model}/{day}")
        if entry.name.endswith(".parquet")
    ]

    def fetch(key: str) -> None:
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(log.read(key))

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(fetch, keys))
    return len(keys)


def same_result(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> bool:
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        if a["version"] != b["version"] or a["n"] != b["n"]:
            return False
        if not all(np.isclose(a[k], b[k], rtol=1e-9) for k in ("mean_ms", "p99_ms")):
            return False
    return True


def window(hour: int | None) -> tuple[datetime, datetime]:
    """The day, or one hour of it."""
    if hour is None:
        return DAY_START, DAY_START + timedelta(days=1)
    since = DAY_START + timedelta(hours=hour)
    return since, since + timedelta(hours=1)


def sql_for(since: datetime, until: datetime) -> str:
    return BY_VERSION.format(since=since.isoformat(), until=until.isoformat())
