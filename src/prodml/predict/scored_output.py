"""Logging a scored table from its parts: the parts have written their rows as Parquet
and kept what merges (the added columns' sketches and distinct values), so the caller
joins the parts' files into the version's file without decoding them, and merges
rather than recomputes.

The version is the one :func:`prodml.data.datasets.log_dataset` makes of the same
table: the same content digest, schema, summaries, profile and lineage. When a part
has no file, or a column is of a type whose values Parquet gives back otherwise (nested,
dictionary, extension, date64, timestamps in seconds), the table is logged whole."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from prodml.client import Client
from prodml.data import distinct_values, parquet_parts, tables
from prodml.data.datasets import log_dataset
from prodml.data.sketches import ColumnProfile
from prodml.data.stored_profiles import store_profile
from prodml.domain.dataset import ColumnSummary, DatasetKind, DatasetVersion
from prodml.domain.ids import utcnow
from prodml.stores.protocol import NodeRef


def log_output(
    client: Client,
    name: str,
    table: pa.Table,
    files: Sequence[pa.Buffer | None],
    distinct: Sequence[Mapping[str, np.ndarray]],
    carried: DatasetVersion,
    sources: Sequence[tuple[NodeRef, str]],
    profiles: Mapping[str, ColumnProfile],
) -> DatasetVersion:
    """Log ``table`` (``carried``'s columns, then the added ones) as dataset ``name``,
    from its parts' Parquet ``files`` (of one schema; none: the table is written) and
    ``distinct`` values, in the parts' order."""
    table = tables.plain(table)
    key = list(carried.key)
    if not files or any(f is None for f in files) or not all(map(_kept, table.schema.types)):
        return _whole(client, name, table, key, sources, carried, profiles)
    start = carried if _carries(table, carried) else None
    tables.check_key(table, tuple(key), name)
    scratch = client.home / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    handle, file = tempfile.mkstemp(suffix=".parquet", dir=scratch)
    os.close(handle)
    path = Path(file)
    try:
        parquet_parts.concatenate([f for f in files if f is not None], path)
        if _read_schema(path) != table.schema:
            return _whole(client, name, table, key, sources, carried, profiles)
        blob, _ = client.artifacts.put_file(path)
    finally:
        path.unlink(missing_ok=True)
    version = DatasetVersion(
        id=tables.content_digest(table),
        name=name,
        version=0,
        kind=DatasetKind.TABLE,
        author=client.settings.user,
        created_at=utcnow(),
        num_rows=table.num_rows,
        num_files=1,
        num_bytes=_size(table),
        schema={f.name: str(f.type) for f in table.schema},
        columns=_summaries(table, start, distinct),
        key=tuple(key),
        source=None,
    )
    stored, _ = client.metadata.add_dataset_version(version, blob, [], sources)
    store_profile(client, stored, table, start, profiles)
    return stored


def _whole(
    client: Client,
    name: str,
    table: pa.Table,
    key: list[str],
    sources: Sequence[tuple[NodeRef, str]],
    carried: DatasetVersion,
    profiles: Mapping[str, ColumnProfile],
) -> DatasetVersion:
    return log_dataset(
        client, name, table, key, sources=sources, carried=carried, profiles=profiles
    )


def _kept(kind: pa.DataType) -> bool:
    """Whether Parquet gives a column of this type back as the same values and type."""
    if pa.types.is_timestamp(kind):
        return bool(kind.unit != "s")
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_date32(kind)
        or pa.types.is_decimal(kind)
    )


def _size(table: pa.Table) -> int:
    """The table's bytes in memory, a validity bitmap counted only where a column has
    nulls: whether an all-valid column has one depends on where it came from (a Parquet
    reader, Ray's object store), not on its content."""
    total = 0
    for column in table.columns:
        for chunk in column.chunks:
            if chunk.null_count or chunk.buffers()[0] is None:
                total += chunk.nbytes
            else:
                buffers = [None, *chunk.buffers()[1:]]
                total += pa.Array.from_buffers(
                    chunk.type, len(chunk), buffers, 0, chunk.offset
                ).nbytes
    return total


def _read_schema(path: Path) -> pa.Schema:
    """The schema of a Parquet file as a table read from it has it."""
    import pyarrow.parquet as pq

    return tables.plain(pq.read_schema(path).empty_table()).schema


def _summaries(
    table: pa.Table,
    carried: DatasetVersion | None,
    distinct: Sequence[Mapping[str, np.ndarray]],
) -> tuple[ColumnSummary, ...]:
    """The carried columns' summaries from their version; the added columns' made here,
    number columns' distinct values counted from the parts'."""
    if carried is None or len(carried.columns) != len(carried.schema):
        return tables.summarise(table)
    added = table.drop_columns(list(carried.schema))
    made = []
    for field, column in zip(added.schema, added.columns, strict=True):
        if distinct_values.counted(field.type) and all(field.name in d for d in distinct):
            count = distinct_values.count_distinct([d[field.name] for d in distinct])
            made.append(distinct_values.summary(field.name, column, count))
        else:
            made.extend(tables.summarise(added.select([field.name])))
    return (*carried.columns, *made)


def _carries(table: pa.Table, version: DatasetVersion) -> bool:
    """Whether the table starts with the version's columns, as many rows and types."""
    first = [(f.name, str(f.type)) for f in list(table.schema)[: len(version.schema)]]
    return table.num_rows == version.num_rows and first == list(version.schema.items())
