"""Duplicate rows: a 64-bit hash of every row (DuckDB, vectorised and parallel)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pyarrow as pa

ROW_SAMPLE = 4096  # the smallest distinct row hashes kept for merging
_lock = threading.Lock()


def duplicate_rows(table: pa.Table) -> tuple[int, np.ndarray]:
    """Exact duplicate rows (by a 64-bit hash of every column) and the smallest
    distinct row hashes."""
    if table.num_rows == 0 or table.num_columns == 0:
        return 0, np.zeros(0, dtype=np.uint64)
    import duckdb

    hashable = pa.table({f"c{i}": _hashable(table.column(i)) for i in range(table.num_columns)})
    columns = ", ".join(f'"c{i}"' for i in range(table.num_columns))
    with _lock:  # one connection per call; the lock keeps memory use bounded
        connection = duckdb.connect()
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


def _hashable(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Nested and extension types are hashed as their JSON text."""
    if pa.types.is_nested(column.type) or isinstance(column.type, pa.ExtensionType):
        texts = [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()]
        return pa.array(texts, pa.large_string())
    if pa.types.is_float16(column.type):  # DuckDB has no half floats
        return column.cast(pa.float32())
    return column
