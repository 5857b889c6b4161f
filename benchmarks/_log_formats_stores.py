"""The three ways of keeping the prediction log on S3 that ``log_formats.py`` measures,
behind one interface: ``append`` a flush, ``bulk`` write many flushes fast, ``scan``
an hour into DuckDB, ``compact`` and ``settle`` (delete what compaction replaced),
``prune`` a day, ``drop`` everything.

- ``Segments``: prodml's layout, one Parquet object a flush under
  ``<model>/<day>/<HHMMSS>-<pid>-<random>.parquet``; a reader lists the hour's prefix
  (the names start with the time) and leaves out what a compacted file's footer names.
- ``Delta``: one append commit a flush (deltalake), partitioned by model/day/hour.
- ``Iceberg``: one append snapshot a flush (pyiceberg, SQL catalog on PostgreSQL),
  partitioned by model and hour(ts).
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from _log_formats_common import BUCKET, MODEL, SCHEMA, delta_options, filesystem

COMPACTED = "c0a1e5"  # as prodml.predictions.query: the mark of a compacted file's name
REPLACES = b"prodml.replaces"
GROUP = (
    "SELECT version, count(*) AS n, avg(latency_ms) AS latency FROM log "
    "WHERE ts >= $1 AND ts < $2 GROUP BY version ORDER BY version"
)
CHECK = "SELECT count(*), count(DISTINCT row_id) FROM log WHERE ts >= $1 AND ts < $2"
BULK_COMMIT = 100  # files a commit when Delta and Iceberg tables are filled in bulk


def arrow_s3() -> pafs.S3FileSystem:
    endpoint = os.environ["AWS_ENDPOINT_URL"].removeprefix("http://")
    return pafs.S3FileSystem(
        access_key="testing", secret_key="testing", region="us-east-1",
        endpoint_override=endpoint, scheme="http",
    )  # fmt: skip


def parquet_bytes(table: pa.Table, **options: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", **options)
    return sink.getvalue()


def hour_range(hour: datetime) -> tuple[datetime, datetime]:
    return hour, hour + timedelta(hours=1)


class Store:
    name = ""
    retries = 0  # commits tried again after a conflict (by this code, not the library)

    def create(self) -> None: ...
    def append(self, table: pa.Table) -> None: ...
    def bulk(self, flushes: list[tuple[float, pa.Table]]) -> None: ...
    def dataset(self, hour: datetime) -> Any: ...
    def compact(self, hour: datetime) -> None: ...
    def settle(self) -> None: ...
    def prune(self, day: date) -> None: ...
    def drop(self) -> None: ...

    def scan(self, hour: datetime | None, sql: str = GROUP) -> list[tuple[Any, ...]]:
        """``sql`` over the hour (or everything), read fresh as a new reader would."""
        start, end = hour_range(hour) if hour else (datetime(1970, 1, 1, tzinfo=UTC),) * 2
        if hour is None:
            end = datetime(9999, 1, 1, tzinfo=UTC)
        connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")
        try:
            log = self.dataset(hour)
            connection.register("log", log)
            return connection.execute(sql, [start, end]).fetchall()
        finally:
            connection.close()


class Segments(Store):
    """One object a flush through s3fs; readers list the hour's prefix."""

    name = "segments"

    def __init__(self, reader: str = "arrow") -> None:
        self.fs: Any = filesystem()
        self.root = f"{BUCKET}/segments/{MODEL}"
        # "arrow": a pyarrow dataset on pyarrow's own S3 client, scanned by DuckDB;
        # "s3fs": DuckDB's read_parquet over the files through the registered s3fs
        self.reader = reader
        self.pending: list[str] = []  # files replaced by a compaction, deleted by settle()
        self.footers: dict[str, frozenset[str]] = {}

    def name_of(self, at: float, pid: int) -> str:
        day, stamp = time.strftime("%Y-%m-%d/%H%M%S", time.gmtime(at)).split("/")
        return f"{self.root}/{day}/{stamp}-{pid}-{uuid.uuid4().hex[:12]}.parquet"

    def append(self, table: pa.Table) -> None:
        self.fs.pipe_file(self.name_of(time.time(), os.getpid()), parquet_bytes(table))

    def bulk(self, flushes: list[tuple[float, pa.Table]]) -> None:
        files = {
            self.name_of(at - 1, 1000 + n % 3): parquet_bytes(t)
            for n, (at, t) in enumerate(flushes)
        }
        self.fs.pipe(files, batch_size=32)

    def files(self, hour: datetime | None) -> list[str]:
        """The live files of the hour (or of the log): a compacted file's footer names
        the files it replaces, and those are left out."""
        if hour is None:
            found = self.fs.find(self.root)
        else:
            found = self.fs.find(f"{self.root}/{hour:%Y-%m-%d}", prefix=f"{hour:%H}")
        found = [f for f in found if f.endswith(".parquet")]
        replaced: set[str] = set()
        for path in found:
            if f"-{COMPACTED}" in path.rsplit("/", 1)[-1]:
                if path not in self.footers:
                    with self.fs.open(path, "rb") as handle:
                        metadata = pq.read_metadata(handle).metadata or {}
                    self.footers[path] = frozenset(json.loads(metadata.get(REPLACES, b"[]")))
                replaced |= self.footers[path]
        return sorted(f for f in found if f.rsplit("/", 1)[-1] not in replaced)

    def dataset(self, hour: datetime | None) -> Any:
        paths = self.files(hour)
        return ds.dataset(paths, schema=SCHEMA, format="parquet", filesystem=arrow_s3())

    def scan(self, hour: datetime | None, sql: str = GROUP) -> list[tuple[Any, ...]]:
        if self.reader == "arrow":
            return super().scan(hour, sql)
        # DuckDB reads the files itself through the registered fsspec filesystem
        paths = self.files(hour)
        start, end = hour_range(hour) if hour else (datetime(1970, 1, 1, tzinfo=UTC),) * 2
        if hour is None:
            end = datetime(9999, 1, 1, tzinfo=UTC)
        connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")
        try:
            connection.register_filesystem(self.fs)
            listed = ", ".join(f"'s3://{p}'" for p in paths)
            if paths:
                connection.execute(f"CREATE VIEW log AS SELECT * FROM read_parquet([{listed}])")
            else:
                connection.register("log", SCHEMA.empty_table())
            return connection.execute(sql, [start, end]).fetchall()
        finally:
            connection.close()

    def compact(self, hour: datetime) -> None:
        """One file for the hour, its footer naming every file it replaces; the
        replaced files are deleted by settle(), once no reader can still be on them."""
        paths = self.files(hour)
        table = ds.dataset(paths, format="parquet", filesystem=arrow_s3()).to_table()
        names = sorted(p.rsplit("/", 1)[-1] for p in paths)
        table = table.sort_by("ts").replace_schema_metadata({REPLACES: json.dumps(names)})
        target = f"{self.root}/{hour:%Y-%m-%d}/{hour:%H}0000-0-{COMPACTED}{uuid.uuid4().hex[:6]}"
        self.fs.pipe_file(f"{target}.parquet", parquet_bytes(table, row_group_size=65_536))
        self.pending += paths

    def settle(self) -> None:
        if self.pending:
            self.fs.rm(self.pending)
        self.pending = []

    def prune(self, day: date) -> None:
        self.fs.rm(f"{self.root}/{day:%Y-%m-%d}", recursive=True)

    def drop(self) -> None:
        if self.fs.exists(f"{BUCKET}/segments"):
            self.fs.rm(f"{BUCKET}/segments", recursive=True)


def partitioned(table: pa.Table) -> pa.Table:
    """Delta's partition columns, from each row's time."""
    day = pc.strftime(table["ts"], format="%Y-%m-%d")
    return table.append_column("day", day).append_column("hour", pc.hour(table["ts"]))


class Delta(Store):
    """One append commit a flush; commits made safe by conditional put."""

    name = "delta"
    uri = f"s3://{BUCKET}/delta"

    def __init__(self) -> None:
        self.options = delta_options()
        self.table: Any = None

    def create(self) -> None:
        from deltalake import DeltaTable

        schema = partitioned(pa.Table.from_batches([], SCHEMA)).schema
        DeltaTable.create(self.uri, schema, partition_by=["model", "day", "hour"],
                          storage_options=self.options)  # fmt: skip

    def append(self, table: pa.Table) -> None:
        from deltalake import DeltaTable, write_deltalake

        if self.table is None:
            self.table = DeltaTable(self.uri, storage_options=self.options)
        write_deltalake(self.table, partitioned(table), mode="append")

    def bulk(self, flushes: list[tuple[float, pa.Table]]) -> None:
        """The flushes' files written directly, then committed BULK_COMMIT at a time."""
        from deltalake import DeltaTable
        from deltalake.transaction import AddAction

        fs, actions = filesystem(), []
        for _at, table in flushes:
            table = partitioned(table)
            values = {k: str(table[k][0].as_py()) for k in ("model", "day", "hour")}
            path = "/".join(f"{k}={v}" for k, v in values.items())
            path += f"/part-{uuid.uuid4().hex}.parquet"
            data = parquet_bytes(table.drop_columns(["model", "day", "hour"]))
            low, high = pc.min_max(table["ts"]).values()
            stats = {"numRecords": table.num_rows, "minValues": {"ts": low.as_py().isoformat()},
                     "maxValues": {"ts": high.as_py().isoformat()}}  # fmt: skip
            actions.append((path, data, values, json.dumps(stats)))
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda a: fs.pipe_file(f"{BUCKET}/delta/{a[0]}", a[1]), actions))
        delta = DeltaTable(self.uri, storage_options=self.options)
        now = int(time.time() * 1000)
        for start in range(0, len(actions), BULK_COMMIT):
            adds = [
                AddAction(p, len(d), v, now, True, s)
                for p, d, v, s in actions[start : start + BULK_COMMIT]
            ]
            delta.create_write_transaction(adds, "append", delta.schema(), ["model", "day", "hour"])

    def dataset(self, hour: datetime | None) -> Any:
        from deltalake import DeltaTable

        table = DeltaTable(self.uri, storage_options=self.options)
        if hour is None:
            return table.to_pyarrow_dataset()
        partitions = [("day", "=", f"{hour:%Y-%m-%d}"), ("hour", "=", str(hour.hour))]
        return table.to_pyarrow_dataset(partitions=partitions)

    def compact(self, hour: datetime) -> None:
        from deltalake import DeltaTable

        table = DeltaTable(self.uri, storage_options=self.options)
        table.optimize.compact(partition_filters=[("day", "=", f"{hour:%Y-%m-%d}"),
                                                  ("hour", "=", str(hour.hour))])  # fmt: skip

    def settle(self) -> None:
        from deltalake import DeltaTable

        table = DeltaTable(self.uri, storage_options=self.options)
        table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)

    def prune(self, day: date) -> None:
        from deltalake import DeltaTable

        table = DeltaTable(self.uri, storage_options=self.options)
        table.delete(f"day = '{day:%Y-%m-%d}'")
        self.settle()

    def conflicts(self) -> int:
        """Commits delta-rs tried again at a later version after another writer's
        commit took theirs (its history's ``num_retries``)."""
        from deltalake import DeltaTable

        history = DeltaTable(self.uri, storage_options=self.options).history()
        return sum(int(e.get("operationMetrics", {}).get("num_retries", 0)) for e in history)

    def drop(self) -> None:
        fs = filesystem()
        if fs.exists(f"{BUCKET}/delta"):  # type: ignore[attr-defined]
            fs.rm(f"{BUCKET}/delta", recursive=True)  # type: ignore[attr-defined]
