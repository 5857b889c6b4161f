"""Duplicate rows: a 64-bit hash of every row (DuckDB, vectorised and parallel)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from prodml.data import kept_duckdb

ROW_SAMPLE = 4096  # the smallest distinct row hashes kept for merging
SORTED_ROWS = 50_000_000  # up to this many rows, hashes are counted in memory (8 bytes a row)


def duplicate_rows(table: pa.Table) -> tuple[int, np.ndarray]:
    """Exact duplicate rows (by a 64-bit hash of every column) and the smallest
    distinct row hashes. The hashes are counted by a sort here, up to
    :data:`SORTED_ROWS` rows (4M rows of 12 columns: 0.40 s against 0.86 s in DuckDB);
    past that in DuckDB, which can spill to disk."""
    if table.num_rows == 0 or table.num_columns == 0:
        return 0, np.zeros(0, dtype=np.uint64)
    if table.num_rows <= SORTED_ROWS:
        return duplicates_of(row_hashes(table))
    hashable = pa.table({f"c{i}": _hashable(table.column(i)) for i in range(table.num_columns)})
    columns = ", ".join(f'"c{i}"' for i in range(table.num_columns))
    with kept_duckdb.connection(table.num_rows) as connection:
        connection.register("profiled", hashable)
        connection.execute(f"CREATE TEMP TABLE h AS SELECT hash({columns}) AS h FROM profiled")
        distinct = connection.execute("SELECT count(DISTINCT h) FROM h").fetchone()
        smallest = connection.execute(
            f"SELECT DISTINCT h FROM h ORDER BY h LIMIT {ROW_SAMPLE}"
        ).fetchnumpy()["h"]
    assert distinct is not None
    return table.num_rows - int(distinct[0]), np.asarray(smallest, dtype=np.uint64)


def row_hashes(table: pa.Table) -> np.ndarray:
    """Every row's hash, in row order (DuckDB's ``hash`` of every column)."""
    if table.num_rows == 0 or table.num_columns == 0:
        return np.zeros(0, dtype=np.uint64)
    hashable = pa.table({f"c{i}": _hashable(table.column(i)) for i in range(table.num_columns)})
    columns = ", ".join(f'"c{i}"' for i in range(table.num_columns))
    with kept_duckdb.connection(table.num_rows) as connection:
        connection.register("profiled", hashable)
        made = connection.execute(f"SELECT hash({columns}) AS h FROM profiled").fetchnumpy()
    return np.asarray(made["h"], dtype=np.uint64)


def duplicates_of(hashes: np.ndarray) -> tuple[int, np.ndarray]:
    """Duplicate rows and the smallest distinct hashes, from every row's hash."""
    ordered = np.sort(hashes, kind="stable")  # a radix sort for integers
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    distinct = ordered[first]
    return len(hashes) - len(distinct), distinct[:ROW_SAMPLE].astype(np.uint64)


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
