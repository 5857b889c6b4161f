"""One Parquet file joined from parts encoded apart: the parts' rows in order, read by
any reader, and, where the parts end on row group bounds, the bytes one writer makes."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prodml.data import parquet_parts

GROUP = 1024 * 1024  # rows per row group, as pyarrow writes them


def _table(rows: int) -> pa.Table:
    rng = np.random.default_rng(5)
    start = dt.datetime(2024, 1, 1)
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "x": pa.array(rng.normal(size=rows), mask=rng.random(rows) < 0.1),
            "region": pa.array([("north", "south", None)[i % 3] for i in range(rows)]),
            "flag": pa.array(rng.random(rows) < 0.5),
            "when": pa.array([start + dt.timedelta(minutes=i) for i in range(rows)]),
        }
    )


def _joined(table: pa.Table, bounds: list[int], path: Path) -> Path:
    edges = [0, *bounds, table.num_rows]
    parts = [table.slice(a, b - a) for a, b in itertools.pairwise(edges)]
    parquet_parts.concatenate([parquet_parts.encode(part) for part in parts], path)
    return path


def test_the_joined_file_holds_the_parts_rows_in_order(tmp_path: Path) -> None:
    table = _table(50_000)

    path = _joined(table, [7, 20_000, 20_001, 36_000], tmp_path / "joined.parquet")

    assert pq.read_table(path).equals(table)
    file = pq.ParquetFile(path)
    sizes = [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)]
    assert sizes == [7, 19_993, 1, 15_999, 14_000]
    assert file.read_row_group(3).equals(table.slice(20_001, 15_999))
    (found,) = duckdb.sql(f"SELECT count(*), sum(id), count(x) FROM '{path}'").fetchall()
    assert found == (50_000, sum(range(50_000)), 50_000 - table.column("x").null_count)


def test_one_part_is_the_file_one_writer_makes(tmp_path: Path) -> None:
    table = _table(10_000)
    pq.write_table(table, tmp_path / "whole.parquet", compression=parquet_parts.COMPRESSION)

    path = _joined(table, [], tmp_path / "joined.parquet")

    assert path.read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_parts_ending_on_row_group_bounds_give_one_writers_bytes(tmp_path: Path) -> None:
    table = pa.table({"n": np.arange(2 * GROUP + 5, dtype=np.int64)})
    pq.write_table(table, tmp_path / "whole.parquet", compression=parquet_parts.COMPRESSION)

    path = _joined(table, [GROUP, 2 * GROUP], tmp_path / "joined.parquet")

    assert path.read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_a_part_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PAR1"):
        parquet_parts.concatenate([pa.py_buffer(b"not a parquet file")], tmp_path / "x")


def test_parts_start_on_row_groups_unless_that_unbalances_them() -> None:
    assert parquet_parts.aligned_ranges(10_000_000, 2) == [(0, 5 * GROUP), (5 * GROUP, 10_000_000)]
    assert parquet_parts.aligned_ranges(2_000_000, 2) == [(0, GROUP), (GROUP, 2_000_000)]
    assert parquet_parts.aligned_ranges(1_500_000, 2) == [(0, 750_000), (750_000, 1_500_000)]
    assert parquet_parts.aligned_ranges(3000, 3) == [(0, 1000), (1000, 2000), (2000, 3000)]
    assert parquet_parts.aligned_ranges(2, 5) == [(0, 1), (1, 2)]
