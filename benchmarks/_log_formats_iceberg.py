"""The prediction log as an Apache Iceberg table (pyiceberg): data on the moto S3,
the catalog a ``SqlCatalog`` in a PostgreSQL schema of its own (dropped by ``drop``)."""

from __future__ import annotations

import contextlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pyarrow as pa
import sqlalchemy
from _log_formats_common import BUCKET, SCHEMA, filesystem
from _log_formats_stores import BULK_COMMIT, Store, hour_range, parquet_bytes

POSTGRES = os.environ.get("PRODML_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NAMESPACE = "prodml_bench"
PG_SCHEMA = "prodml_bench_log_formats"  # the catalog's tables live here, nowhere else
TABLE = f"{NAMESPACE}.predictions"


def _engine_url() -> str:
    return POSTGRES.replace("postgresql://", "postgresql+psycopg2://", 1)


def _between(start: datetime, end: datetime) -> Any:
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    return And(GreaterThanOrEqual("ts", start.isoformat()), LessThan("ts", end.isoformat()))


class Iceberg(Store):
    """One append snapshot a flush; the catalog's compare-and-swap in PostgreSQL makes
    commits safe, and a writer that loses the race refreshes and tries again."""

    name = "iceberg"

    def __init__(self) -> None:
        self._catalog: Any = None
        self._table: Any = None

    def catalog(self) -> Any:
        if self._catalog is None:
            from pyiceberg.catalog.sql import SqlCatalog

            engine = sqlalchemy.create_engine(_engine_url())
            with engine.begin() as connection:
                connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
            engine.dispose()
            self._catalog = SqlCatalog(
                "prodml_bench",
                uri=f"{_engine_url()}?options=-csearch_path%3D{PG_SCHEMA}",
                warehouse=f"s3://{BUCKET}/iceberg",
                **{
                    "s3.endpoint": os.environ["AWS_ENDPOINT_URL"],
                    "s3.access-key-id": "testing",
                    "s3.secret-access-key": "testing",
                    "s3.region": "us-east-1",
                },
            )
        return self._catalog

    def load(self) -> Any:
        return self.catalog().load_table(TABLE)

    def create(self) -> None:
        from pyiceberg.transforms import HourTransform

        self.catalog().create_namespace_if_not_exists(NAMESPACE)
        table = self.catalog().create_table(TABLE, schema=SCHEMA)
        with table.update_spec() as spec:
            spec.add_identity("model")
            spec.add_field("ts", HourTransform(), "ts_hour")

    def append(self, table: pa.Table) -> None:
        from pyiceberg.exceptions import CommitFailedException

        if self._table is None:
            self._table = self.load()
        for _ in range(50):
            try:
                self._table.append(table)  # pyiceberg retries a lost race 4 times itself
                return
            except CommitFailedException:
                self.retries += 1
                self._table = self.load()
        raise RuntimeError("no commit after 50 tries")

    def bulk(self, flushes: list[tuple[float, pa.Table]]) -> None:
        """The flushes' files written directly, then added BULK_COMMIT at a time."""
        fs = filesystem()
        paths = [f"{BUCKET}/iceberg/bulk/{uuid.uuid4().hex}.parquet" for _ in flushes]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p, f: fs.pipe_file(p, parquet_bytes(f[1])), paths, flushes))  # type: ignore[attr-defined]
        table = self.load()
        for start in range(0, len(paths), BULK_COMMIT):
            table.add_files([f"s3://{p}" for p in paths[start : start + BULK_COMMIT]])

    def dataset(self, hour: datetime | None) -> Any:
        scan = self.load().scan(row_filter=_between(*hour_range(hour))) if hour else None
        return (scan or self.load().scan()).to_arrow()

    def compact(self, hour: datetime) -> None:
        """pyiceberg 0.12 has no rewrite of data files: the hour is read, sorted and
        written back with ``overwrite``, its old files removed in the same commit."""
        table = self.load()
        between = _between(*hour_range(hour))
        rows = table.scan(row_filter=between).to_arrow().sort_by("ts")
        table.overwrite(rows, overwrite_filter=between)

    def settle(self) -> None:
        """Expire the snapshots before now (pyiceberg drops them from the metadata; it
        deletes no data file: that takes Spark's or Java's remove_orphan_files)."""
        table = self.load()
        table.maintenance.expire_snapshots().older_than(datetime.now(UTC)).commit()

    def prune(self, day: date) -> None:
        start = datetime.combine(day, time(), UTC)
        self.load().delete(delete_filter=_between(start, start + timedelta(days=1)))
        self.settle()

    def drop(self) -> None:
        with contextlib.suppress(Exception):  # absent already
            self.catalog().purge_table(TABLE)
        engine = sqlalchemy.create_engine(_engine_url())
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        engine.dispose()
        self._catalog = None
        fs = filesystem()
        if fs.exists(f"{BUCKET}/iceberg"):  # type: ignore[attr-defined]
            fs.rm(f"{BUCKET}/iceberg", recursive=True)  # type: ignore[attr-defined]
