"""Profiling a large table's columns in worker processes, one column at a time.

The sketches' update loops hold the GIL, so threads do not help; forked workers
share the table with the parent (copy-on-write) and send back each column's
serialised profile. Row hashing (DuckDB, threaded) runs in the parent meanwhile."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa

from prodml.data.sketches import ColumnProfile, profile_column

PARALLEL_CELLS = 20_000_000  # rows x columns from which workers pay off
_shared: pa.Table | None = None
T = TypeVar("T")


def worth_it(table: pa.Table) -> bool:
    return (
        table.num_rows * table.num_columns >= PARALLEL_CELLS
        and table.num_columns > 1
        and (os.cpu_count() or 1) > 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


def profile_columns(
    table: pa.Table, rows: Callable[[pa.Table], T]
) -> tuple[dict[str, ColumnProfile], T]:
    global _shared
    _shared = table
    try:
        context = multiprocessing.get_context("fork")
        count = min(os.cpu_count() or 1, table.num_columns, 8)
        with ProcessPoolExecutor(count, mp_context=context) as pool:
            futures = [pool.submit(_profile_one, i) for i in _by_cost(table)]
            row_result = rows(table)
            docs = [future.result() for future in futures]
    finally:
        _shared = None
    profiles = {doc["name"]: ColumnProfile.from_dict(doc) for doc in docs}
    return {name: profiles[name] for name in table.column_names}, row_result


def _by_cost(table: pa.Table) -> list[int]:
    """Numeric columns first (the quantile sketch costs most), so the tail is short."""
    return sorted(
        range(table.num_columns),
        key=lambda i: (
            not (
                pa.types.is_integer(table.schema[i].type)
                or pa.types.is_floating(table.schema[i].type)
            )
        ),
    )


def _profile_one(index: int) -> dict[str, Any]:
    assert _shared is not None
    return profile_column(_shared.column_names[index], _shared.column(index)).to_dict()
