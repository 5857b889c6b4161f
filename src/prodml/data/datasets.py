"""Logging dataset versions: tables (with their profile) and sets of files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from prodml.client import Client
from prodml.data import distinct, tables
from prodml.data import files as file_sets
from prodml.data.sketches import ColumnProfile
from prodml.data.stored_profiles import profiles_of, store_profile
from prodml.data.stored_tables import as_stored
from prodml.domain.dataset import ColumnSummary, DatasetKind, DatasetVersion
from prodml.domain.ids import utcnow
from prodml.errors import DataReadError, InvalidInputError
from prodml.names import check_name
from prodml.stores.protocol import NodeRef

ROW_GROUP = 1024 * 1024  # rows in each of a table's Parquet row groups (pyarrow's default)
# From this size on a table's Parquet file is written beside its digest and summaries:
# below it, starting the second thread costs more than it saves (a 3-row table: 5.4 ms
# a version one after the other, 6-7 ms with the thread)
SIDE_BY_SIDE_BYTES = 4 << 20


def log_dataset(
    client: Client,
    name: str,
    data: Any,
    key: str | list[str] | None = None,
    progress: file_sets.Progress | None = None,
    partition_by: str | None = None,
    sources: Sequence[tuple[NodeRef, str]] = (),
    carried: DatasetVersion | None = None,
    profiles: Mapping[str, ColumnProfile] | None = None,
    profile: bool = True,
) -> DatasetVersion:
    """Store a dataset version; the same content under the same name is the same version.

    A table's profile is stored with it (with ``profile=False``, made and stored when
    first asked for: a pipeline's intermediate tables); with ``partition_by``, one per
    partition too.
    ``sources`` are lineage edges into the version: ``(("model", id), "scored")``.
    ``carried`` is a table version whose columns the table starts with, row for row
    (a scored version): their summaries and profiles are taken from it. ``profiles``
    are column profiles made already (e.g. by the parts that made the columns)."""
    check_name(name, "dataset")
    keys = (key,) if isinstance(key, str) else tuple(key or ())
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.exists():
            raise DataReadError(f"No file or folder at {path}. Check the path.")
        if path.is_file() and path.suffix.lower() in tables.TABLE_SUFFIXES:
            table = tables.read_table(path)
            tables.check_columns(table, name)
            source = str(path.absolute())
            return _log_table(client, name, table, keys, source, partition_by, sources)
        if keys:
            raise InvalidInputError(
                f"key= applies to tables; {path} is logged as files. Drop key= or pass a table."
            )
        return _log_files(client, name, path, progress, sources)
    table = tables.to_arrow(data, name)
    return _log_table(
        client, name, table, keys, None, partition_by, sources, carried, profiles, profile
    )


def _log_table(
    client: Client,
    name: str,
    table: pa.Table,
    key: tuple[str, ...],
    source: str | None,
    partition_by: str | None = None,
    sources: Sequence[tuple[NodeRef, str]] = (),
    carried: DatasetVersion | None = None,
    profiles: Mapping[str, ColumnProfile] | None = None,
    profile: bool = True,
) -> DatasetVersion:
    tables.check_key(table, key, name)
    if partition_by is not None and partition_by not in table.column_names:
        raise InvalidInputError(
            f"No column {partition_by!r} to partition dataset {name!r} by. "
            f"Columns: {', '.join(table.column_names[:20])}."
        )
    blob, size, table, digest, columns = _stored_and_summaries(client, table, carried)
    carried = carried if carried is not None and _carries(table, carried) else None
    version = DatasetVersion(
        id=digest,
        name=name,
        version=0,
        kind=DatasetKind.TABLE,
        author=client.settings.user,
        created_at=utcnow(),
        num_rows=table.num_rows,
        num_files=1,
        num_bytes=size,
        schema={f.name: str(f.type) for f in table.schema},
        columns=columns,
        key=key,
        source=source,
    )
    stored, _ = client.metadata.add_dataset_version(version, blob, [], sources)
    if profile:
        store_profile(client, stored, table, carried, profiles)
    if partition_by:
        profiles_of(client, stored, partition_by, table)
    return stored


def _stored_and_summaries(
    client: Client, table: pa.Table, carried: DatasetVersion | None
) -> tuple[str, int, pa.Table, str, tuple[ColumnSummary, ...]]:
    """The table stored as Parquet (its blob and size), the table as Parquet gives it
    back, its content digest and its column summaries. The digest and summaries are
    made while another thread writes the file (both mostly outside the GIL), from the
    table as a file of its schema would give it back; in the rare case that the file
    written says otherwise, they are made again from what it says."""
    expected = None
    if table.nbytes >= SIDE_BY_SIDE_BYTES:
        expected = as_stored(table, _parquet_schema(table))
    if expected is None:  # small, or a column Parquet changes: known only once read back
        blob, size, stored = _store_parquet(client, table)
        return blob, size, stored, tables.content_digest(stored), _summaries(stored, carried)
    with ThreadPoolExecutor(1, thread_name_prefix="prodml-parquet") as pool:
        writing = pool.submit(_store_parquet, client, table)
        try:
            digest, columns = tables.content_digest(expected), _summaries(expected, carried)
        finally:
            blob, size, stored = writing.result()  # its error, if any, is the one raised
    if stored.schema != expected.schema:
        digest, columns = tables.content_digest(stored), _summaries(stored, carried)
    return blob, size, stored, digest, columns


def _parquet_schema(table: pa.Table) -> pa.Schema:
    """The schema a Parquet file of ``table`` has: that of a file of none of its rows."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table.slice(0, 0), sink)
    return pq.read_schema(pa.BufferReader(sink.getvalue()))


def _carries(table: pa.Table, version: DatasetVersion) -> bool:
    """Whether the table starts with the version's columns, as many rows and types."""
    first = [(f.name, str(f.type)) for f in list(table.schema)[: len(version.schema)]]
    return table.num_rows == version.num_rows and first == list(version.schema.items())


def _summaries(table: pa.Table, carried: DatasetVersion | None) -> tuple[ColumnSummary, ...]:
    """Per column: those ``carried`` has (when the table carries it) taken from it."""
    if (
        carried is None
        or not _carries(table, carried)
        or len(carried.columns) != len(carried.schema)
    ):
        return tables.summarise(table)
    rest = tables.summarise(table.drop_columns(list(carried.schema)))
    return (*carried.columns, *rest)


def _store_parquet(client: Client, table: pa.Table) -> tuple[str, int, pa.Table]:
    """Store the table as Parquet; return the blob, its size (the version's bytes: what
    is stored, the same however the table was held in memory) and the table as
    Parquet gives it back. The version's digest and schema are taken from that table, so what
    load_table returns, logged again, is the same version (Parquet has no date64,
    names list items "element", ...). It is made in memory from the file's schema
    (its footer); only a table with a column whose values Parquet changes is read back."""
    import pyarrow.parquet as pq

    scratch = client.home / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(suffix=".parquet", dir=scratch)
    os.close(handle)
    path = Path(name)
    try:
        with pq.ParquetWriter(
            path,
            table.schema,
            compression="zstd",
            use_dictionary=distinct.dictionary_columns(table),
        ) as writer:
            for start in range(0, max(table.num_rows, 1), ROW_GROUP):
                # Parquet's pages follow the chunks: the same rows, split otherwise, would
                # be other bytes (and another size) for the same version, so each row
                # group is written whole; one at a time, not a copy of the whole table
                group = table.slice(start, ROW_GROUP)
                if any(column.num_chunks > 1 for column in group.columns):
                    group = group.combine_chunks()
                writer.write_table(group, row_group_size=ROW_GROUP)
        stored = as_stored(table, pq.read_schema(path))
        if stored is None:
            stored = tables.plain(pq.read_table(path))
        digest, size = client.artifacts.put_file(path, owned=True)  # renamed, not copied
    finally:
        path.unlink(missing_ok=True)
    return digest, size, stored


def _log_files(
    client: Client,
    name: str,
    path: Path,
    progress: file_sets.Progress | None,
    sources: Sequence[tuple[NodeRef, str]] = (),
) -> DatasetVersion:
    entries = file_sets.store_files(path, client.artifacts, client.metadata.stored_files, progress)
    version = DatasetVersion(
        id=file_sets.manifest_digest(entries),
        name=name,
        version=0,
        kind=DatasetKind.FILES,
        author=client.settings.user,
        created_at=utcnow(),
        num_rows=None,
        num_files=len(entries),
        num_bytes=sum(entry.size for entry in entries),
        source=str(path.absolute()),
    )
    stored, _ = client.metadata.add_dataset_version(version, None, entries, sources)
    return stored
