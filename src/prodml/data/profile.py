"""Table profiles: per-column sketches plus row counts and duplicate rows.

Profiles of partitions merge into the profile of the whole: counts, nulls, NaN,
types, min, max, mean and variance exactly; quantile, frequent-item and distinct
sketches as DataSketches merges them (the same as sketching the whole, within the
sketches' error bounds). Duplicate rows are exact within a profiled table; across
merged partitions they are added up, plus the duplicates the partitions share,
estimated from a bottom-k sample of row hashes (exact while a profile holds fewer
than 4,096 distinct rows)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prodml.data import workers
from prodml.data.rows import ROW_SAMPLE, duplicate_rows
from prodml.data.sketches import ColumnProfile, profile_column
from prodml.errors import DataReadError, InvalidInputError

FORMAT = 1


@dataclass
class TableProfile:
    rows: int
    duplicate_rows: int
    columns: dict[str, ColumnProfile]
    row_hashes: np.ndarray = field(repr=False)  # the smallest distinct row hashes, sorted
    label: str | None = None

    @property
    def duplicate_share(self) -> float:
        return self.duplicate_rows / self.rows if self.rows else 0.0

    @property
    def distinct_rows(self) -> float:
        if len(self.row_hashes) < ROW_SAMPLE:
            return float(len(self.row_hashes))
        kth = float(self.row_hashes[ROW_SAMPLE - 1]) / 2.0**64
        return (ROW_SAMPLE - 1) / kth if kth > 0 else float(self.rows)

    def merge(self, other: TableProfile) -> TableProfile:
        names = list(self.columns) + [c for c in other.columns if c not in self.columns]
        columns = {}
        for name in names:
            left, right = self.columns.get(name), other.columns.get(name)
            if left is None or right is None:
                present = left or right
                assert present is not None
                columns[name] = present.merge(_absent(present, (other if left else self).rows))
            else:
                columns[name] = left.merge(right)
        hashes = _union_smallest(self.row_hashes, other.row_hashes)
        merged = TableProfile(self.rows + other.rows, 0, columns, hashes)
        merged.duplicate_rows = (
            self.duplicate_rows + other.duplicate_rows + _shared(self, other, merged)
        )
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "label": self.label,
            "row_hashes": self.row_hashes.astype("<u8").tobytes().hex(),
            "columns": [c.to_dict() for c in self.columns.values()],
        }

    def to_summary(self) -> dict[str, Any]:
        """What a person reads: per column counts, distinct values and quantiles."""
        return {
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "columns": [c.summary() for c in self.columns.values()],
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TableProfile:
        columns = [ColumnProfile.from_dict(c) for c in doc["columns"]]
        hashes = np.frombuffer(bytes.fromhex(doc["row_hashes"]), dtype="<u8").astype(np.uint64)
        return cls(
            doc["rows"], doc["duplicate_rows"], {c.name: c for c in columns}, hashes, doc["label"]
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> TableProfile:
        return cls.from_dict(json.loads(raw))


def profile_table(
    table: pa.Table, label: str | None = None, mixed: dict[str, dict[str, int]] | None = None
) -> TableProfile:
    """Profile every column; ``mixed`` gives the Python types of columns that held more
    than one (they arrive here as text)."""
    if workers.worth_it(table):
        columns, (duplicates, hashes) = workers.profile_columns(table, duplicate_rows)
    else:
        columns = {name: profile_column(name, table.column(name)) for name in table.column_names}
        duplicates, hashes = duplicate_rows(table)
    for name, types in (mixed or {}).items():
        columns[name].types = dict(types)
        columns[name].type = "mixed"
    return TableProfile(table.num_rows, duplicates, columns, hashes, label)


def profile_partitions(table: pa.Table, partition_by: str) -> dict[str, TableProfile]:
    """One profile per distinct value of ``partition_by`` (NaN and null are values too),
    in the column's sort order; the table is sorted once, not scanned per value."""
    if partition_by not in table.column_names:
        raise InvalidInputError(
            f"No column {partition_by!r} to partition by; the table has "
            f"{', '.join(table.column_names)}. Pass one of them as partition_by."
        )
    encoded = pc.dictionary_encode(table.column(partition_by).combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    values = encoded.dictionary
    rank_of = np.empty(len(values) + 1, dtype=np.int64)
    rank_of[pc.sort_indices(values).to_numpy()] = np.arange(len(values))
    rank_of[-1] = len(values)  # nulls last (code -1)
    ranks = rank_of[codes]
    rows = np.argsort(ranks, kind="stable")
    starts = np.flatnonzero(np.diff(ranks[rows])) + 1
    profiles: dict[str, TableProfile] = {}
    for start, end in zip([0, *starts], [*starts, len(rows)], strict=True):
        code = int(codes[rows[start]])
        label = f"{partition_by}={values[code].as_py() if code >= 0 else None}"
        profiles[label] = profile_table(table.take(pa.array(rows[start:end])), label)
    return profiles


def merge_all(profiles: list[TableProfile]) -> TableProfile:
    if not profiles:
        raise InvalidInputError("No profiles to merge.")
    merged = profiles[0]
    for other in profiles[1:]:
        merged = merged.merge(other)
    return merged


def _union_smallest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ROW_SAMPLE smallest distinct hashes of two sorted sets (a sort, not np.union1d's
    hashing, which is ten times slower on these sizes and runs on every merge)."""
    both = np.concatenate([a, b])
    both.sort()
    distinct = np.ones(len(both), dtype=bool)
    distinct[1:] = both[1:] != both[:-1]
    return both[distinct][:ROW_SAMPLE]


def _absent(present: ColumnProfile, rows: int) -> ColumnProfile:
    """A column missing from one side of a merge counts as null there."""
    empty = ColumnProfile(present.name, present.type, present.kind, rows, rows)
    return empty


def _shared(a: TableProfile, b: TableProfile, merged: TableProfile) -> int:
    """Rows that appear in both profiles: estimated from the row-hash samples."""
    union = merged.distinct_rows
    together = a.distinct_rows + b.distinct_rows
    if len(merged.row_hashes) < ROW_SAMPLE:
        return max(0, round(together - union))
    margin = 3.0 * union / np.sqrt(ROW_SAMPLE)  # the sample's error, ~5%
    return 0 if together - union <= margin else round(together - union)


def read_any(data: Any, what: str) -> tuple[pa.Table, dict[str, dict[str, int]]]:
    """A table from what a user passed (pandas, polars, Arrow, dicts or a table file)
    and the Python types of any column that mixes types (kept as text)."""
    import os
    from pathlib import Path

    from prodml.data import tables

    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.is_file():
            raise DataReadError(f"No file at {path}. Check the path.")
        if path.suffix.lower() not in tables.TABLE_SUFFIXES:
            raise DataReadError(
                f"{path} is not a table file: {what} reads Parquet, CSV or TSV "
                f"({', '.join(tables.TABLE_SUFFIXES)})."
            )
        table = tables.read_table(path)
        tables.check_columns(table, what)
        return table, {}
    if type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "columns"):
        repeated = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
        if repeated:
            raise InvalidInputError(
                f"The data of {what} has more than one column named {repeated}; rename them."
            )
        return _from_pandas(data, what)
    return tables.to_arrow(data, what), {}


def _from_pandas(frame: Any, what: str) -> tuple[pa.Table, dict[str, dict[str, int]]]:
    """Column by column, so one column of mixed types becomes a finding, not an error."""
    from prodml.data import tables

    arrays: dict[str, pa.Array] = {}
    mixed: dict[str, dict[str, int]] = {}
    for name in frame.columns:
        series = frame[name]
        try:
            arrays[str(name)] = pa.array(series, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            values = series.tolist()
            counts: dict[str, int] = {}
            for value in values:
                if value is not None and value == value:
                    counts[type(value).__name__] = counts.get(type(value).__name__, 0) + 1
            mixed[str(name)] = counts
            texts = [None if v is None or v != v else str(v) for v in values]
            arrays[str(name)] = pa.array(texts, pa.large_string())
    if len(set(arrays)) != len(frame.columns):
        raise InvalidInputError(f"The data of {what} has columns with the same name; rename them.")
    return tables.plain(pa.table(arrays)), mixed
