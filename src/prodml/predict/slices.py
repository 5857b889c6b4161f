"""Slices: row predicates in SQL (run by DuckDB over the Arrow table), one slice per
value of a column, and automatic slices where a model's errors are worst."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prodml.errors import InvalidInputError
from prodml.sql_text import identifier, literal, seal

AUTO_PREFIX = "auto: "
CANDIDATE_VALUES = 50
NUMERIC_BINS = 5
MIN_Z = 3.0
ROW = "__prodml_row"


def where_of(spec: object, field: str) -> str:
    """SQL text of a slice's ``where``: SQL as written, or ``{column: value or [values]}``."""
    if isinstance(spec, str) and spec.strip():
        return spec
    if isinstance(spec, Mapping) and spec:
        parts = []
        for column, value in spec.items():
            if value is None:
                parts.append(f"{identifier(str(column))} IS NULL")
            elif isinstance(value, list | tuple):
                parts.append(f"{identifier(str(column))} IN ({', '.join(map(literal, value))})")
            else:
                parts.append(f"{identifier(str(column))} = {literal(value)}")
        return " AND ".join(parts)
    raise InvalidInputError(
        f'Suite field {field!r} must be SQL text (e.g. "distance > 1500") or a mapping of '
        "column to value (e.g. {carrier: UA})."
    )


def masks(table: pa.Table, slices: Mapping[str, str], valset: str) -> dict[str, np.ndarray]:
    """A boolean row mask per slice; NULL counts as outside the slice."""
    import duckdb

    if not slices:
        return {}
    connection = _connection()
    # DuckDB may return the rows of a many-chunk table out of order: carry each row's
    # position through the query and put every answer back in its place.
    positions = pa.array(np.arange(table.num_rows, dtype=np.int64))
    connection.register("rows", table.append_column(ROW, positions))
    names = list(slices)
    select = ", ".join(
        f"coalesce(({slices[n]})::BOOLEAN, FALSE) AS s{i}" for i, n in enumerate(names)
    )
    try:
        _check_boolean(connection, slices, valset)
        result = connection.execute(f'SELECT "{ROW}", {select} FROM rows').fetchnumpy()
    except duckdb.Error:
        _name_the_bad_slice(connection, slices, valset, table.column_names)
        raise
    finally:
        connection.unregister("rows")
    order = np.asarray(result[ROW], dtype=np.int64)
    found = {}
    for i, name in enumerate(names):
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[order] = np.asarray(result[f"s{i}"], dtype=bool)
        found[name] = mask
    return found


_local = threading.local()


def _connection() -> Any:
    """This thread's DuckDB connection: opening one costs milliseconds, so it is kept."""
    import duckdb

    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = duckdb.connect()
        seal(connection)  # a slice is SQL from a suite or a command line: it reads rows only
        _local.connection = connection
    return connection


def _check_boolean(connection: Any, slices: Mapping[str, str], valset: str) -> None:
    """Refuse a clause that is not a condition (``x * 2``, a bare column name)."""
    columns = ", ".join(f"({where}) AS s{i}" for i, where in enumerate(slices.values()))
    kinds = connection.execute(f"DESCRIBE SELECT {columns} FROM rows").fetchall()
    for (name, where), kind in zip(slices.items(), kinds, strict=True):
        if str(kind[1]) not in ("BOOLEAN", '"NULL"', "NULL"):
            raise InvalidInputError(
                f"Slice {name!r} (where: {where}) is {kind[1]}, not a condition, on {valset}. "
                "Write a comparison, e.g. distance > 1500."
            )


def _name_the_bad_slice(
    connection: object, slices: Mapping[str, str], valset: str, columns: list[str]
) -> None:
    import duckdb

    assert isinstance(connection, duckdb.DuckDBPyConnection)
    for name, where in slices.items():
        try:
            connection.execute(f"SELECT coalesce(({where})::BOOLEAN, FALSE) FROM rows LIMIT 1")
        except duckdb.Error as error:
            reason = str(error).splitlines()[0]
            raise InvalidInputError(
                f"Slice {name!r} (where: {where}) cannot be applied to {valset}: {reason}. "
                f"Columns there: {', '.join(columns)}."
            ) from None


def by_value(table: pa.Table, column: str, limit: int, valset: str) -> dict[str, str]:
    """One slice per value of ``column`` (the ``limit`` most common), named ``column=value``."""
    if column not in table.column_names:
        raise InvalidInputError(
            f"Suite slice 'by: {column}': {valset} has no column {column!r}. "
            f"Columns: {', '.join(table.column_names)}."
        )
    counts = pc.value_counts(table.column(column).drop_null())
    pairs = sorted(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
        key=lambda pair: (-pair[1], str(pair[0])),
    )[:limit]
    return {f"{column}={value}": f"{identifier(column)} = {literal(value)}" for value, _ in pairs}


def worst(
    table: pa.Table, loss: np.ndarray, columns: list[str], count: int, min_rows: int
) -> dict[str, str]:
    """The ``count`` value buckets of ``columns`` whose mean loss is furthest above the
    whole set's, in standard errors (at least ``MIN_Z``), each of ``min_rows`` or more."""
    known = np.isfinite(loss)
    if count <= 0 or known.sum() < 2 * min_rows:
        return {}
    mean, spread = float(loss[known].mean()), float(loss[known].std())
    if spread == 0:
        return {}
    found: list[tuple[float, str, str]] = []
    for column in columns:
        try:
            buckets = _buckets(table.column(column), column)
        except InvalidInputError:  # a name SQL cannot hold gets no automatic slices
            continue
        for label, where, rows in buckets:
            inside = rows & known
            size = int(inside.sum())
            if size < min_rows or size > 0.5 * known.sum():
                continue
            z = (float(loss[inside].mean()) - mean) / (spread / math.sqrt(size))
            if z >= MIN_Z:
                found.append((z, AUTO_PREFIX + label, where))
    found.sort(key=lambda item: -item[0])
    return {name: where for _, name, where in found[:count]}


def _buckets(column: pa.ChunkedArray, name: str) -> list[tuple[str, str, np.ndarray]]:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        finite = values[np.isfinite(values)]
        if len(np.unique(finite[:10_000])) > NUMERIC_BINS * 2:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, NUMERIC_BINS + 1)))
            return [
                (
                    f"{name} in [{low:g}, {high:g}{']' if last else ')'}",
                    f"{identifier(name)} >= {literal(float(low))} AND "
                    f"{identifier(name)} {'<=' if last else '<'} {literal(float(high))}",
                    (values >= low) & ((values <= high) if last else (values < high)),
                )
                for low, high, last in zip(
                    edges[:-1], edges[1:], [False] * (len(edges) - 2) + [True], strict=True
                )
            ]
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
    ):
        return []
    encoded = pc.dictionary_encode(column).combine_chunks()
    values = encoded.dictionary.to_pylist()
    if len(values) > CANDIDATE_VALUES * 20:
        return []
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    codes = np.where(encoded.indices.is_null().to_numpy(zero_copy_only=False), -1, codes)
    return [
        (f"{name} = {value}", f"{identifier(name)} = {literal(value)}", codes == index)
        for index, value in enumerate(values)
    ]
