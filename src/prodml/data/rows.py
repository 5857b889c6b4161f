"""Duplicate rows: a 64-bit hash of every row (DuckDB, vectorised and parallel)."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import numpy as np
import pyarrow as pa

ROW_SAMPLE = 4096  # the smallest distinct row hashes kept for merging
SHARED_ROWS = 1_000_000  # tables up to this size are hashed in the process's database
_lock = threading.Lock()
_shared: Any = None  # the process's in-memory database, open once a table was hashed


def duplicate_rows(table: pa.Table) -> tuple[int, np.ndarray]:
    """Exact duplicate rows (by a 64-bit hash of every column) and the smallest
    distinct row hashes."""
    if table.num_rows == 0 or table.num_columns == 0:
        return 0, np.zeros(0, dtype=np.uint64)
    hashable = pa.table({f"c{i}": _hashable(table.column(i)) for i in range(table.num_columns)})
    columns = ", ".join(f'"c{i}"' for i in range(table.num_columns))
    with _lock:  # one table at a time: the lock keeps memory use bounded
        connection = _connection(table.num_rows)
        try:
            connection.register("profiled", hashable)
            connection.execute(f"CREATE TEMP TABLE h AS SELECT hash({columns}) AS h FROM profiled")
            distinct = connection.execute("SELECT count(DISTINCT h) FROM h").fetchone()
            smallest = connection.execute(
                f"SELECT DISTINCT h FROM h ORDER BY h LIMIT {ROW_SAMPLE}"
            ).fetchnumpy()["h"]
        finally:
            connection.close()
    assert distinct is not None
    return table.num_rows - int(distinct[0]), np.asarray(smallest, dtype=np.uint64)


def _connection(rows: int) -> Any:
    """A connection of its own for a large table (the memory its hashes took is
    returned when it closes); for a smaller one, a cursor of one in-memory database
    kept by the process: opening a database costs 20-30 ms of CPU, as much as hashing
    a table of 100,000 rows, and this one keeps ~10 MB after a table of 170,000."""
    import duckdb

    global _shared
    if rows > SHARED_ROWS:
        return duckdb.connect()
    if _shared is None:
        _shared = duckdb.connect()
    return _shared.cursor()


def _close_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


def _before_fork() -> None:
    """A forked child cannot use a database its parent has open (its threads are not
    in the child: a query there waits forever), so it is closed before a fork, once
    no table is being hashed; the child opens its own."""
    _lock.acquire()
    _close_shared()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(
        before=_before_fork, after_in_parent=_lock.release, after_in_child=_lock.release
    )


def _hashable(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Nested and extension types are hashed as their JSON text."""
    if pa.types.is_nested(column.type) or isinstance(column.type, pa.ExtensionType):
        texts = [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()]
        return pa.array(texts, pa.large_string())
    if pa.types.is_float16(column.type):  # DuckDB has no half floats
        return column.cast(pa.float32())
    if pa.types.is_decimal256(column.type):  # nor 256-bit decimals: their exact text
        return column.cast(pa.large_string())
    return column
