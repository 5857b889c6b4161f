"""A table dataset version read back from its verified Parquet blob."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from prodml.client import Client
from prodml.data import tables
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.errors import InvalidInputError, NotFoundError


def load_table(client: Client, version: DatasetVersion) -> pa.Table:
    """The stored table of a version, read after its blob is verified."""
    import pyarrow.parquet as pq

    if version.kind is not DatasetKind.TABLE:
        raise InvalidInputError(
            f"Dataset {version.ref} is a set of files, not a table. "
            f"List its files: prodml datasets show {version.ref}"
        )
    blob = client.metadata.dataset_blob(version)
    if blob is None:
        raise NotFoundError(f"Dataset {version.ref} has no stored table.")
    return tables.plain(pq.read_table(pa.BufferReader(client.read_blob(blob))))


def as_stored(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """The table as ``load_table`` gives it back from a Parquet file of ``schema`` (the
    file's), made in memory: the same columns when each comes back with its own type,
    seconds cast to the milliseconds Parquet keeps. None when a column would come back
    otherwise (nested and dictionary columns, date64, extension types): read it back."""
    fields = []
    for field, kept in zip(table.schema, schema, strict=True):
        back = tables.ONE_TYPE.get(str(kept.type), kept.type)
        if field.name != kept.name or not _comes_back(field.type, back):
            return None
        fields.append(pa.field(field.name, back))
    return table.cast(pa.schema(fields)) if table.schema != pa.schema(fields) else table


def _comes_back(given: pa.DataType, back: pa.DataType) -> bool:
    """Whether Parquet gives a column of type ``given`` back as ``back``, value for value."""
    if pa.types.is_nested(given) or pa.types.is_dictionary(given):
        return False  # list items renamed, dictionaries rebuilt from the values in use
    if isinstance(given, pa.ExtensionType) or isinstance(back, pa.ExtensionType):
        return False
    return given == back or _finer_unit(given, back)


def _finer_unit(given: pa.DataType, back: pa.DataType) -> bool:
    """Seconds (timestamps, times of day) come back as milliseconds: the same instants."""
    if pa.types.is_timestamp(given) and pa.types.is_timestamp(back):
        return (given.unit, back.unit, given.tz) == ("s", "ms", back.tz)
    return (given, back) == (pa.time32("s"), pa.time32("ms"))


def read_rows(client: Client, blob: str, start: int, stop: int) -> pa.Table:
    """Rows ``[start, stop)`` of a stored table, as ``load_table`` gives them: only the
    Parquet row groups that hold them are read, from the blob once verified (once per
    process: the parts a worker scores after its first do not hash the file again)."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(_verified_path(client, blob))
    groups: list[int] = []
    first = offset = 0
    for index in range(file.metadata.num_row_groups):
        size = file.metadata.row_group(index).num_rows
        if offset < stop and offset + size > start:
            if not groups:
                first = offset
            groups.append(index)
        offset += size
    read = file.read_row_groups(groups) if groups else file.schema_arrow.empty_table()
    return tables.plain(read.slice(start - first, stop - start))


def _verified_path(client: Client, blob: str) -> Path:
    key = (client.settings.artifact_url, blob)
    path = _verified.get(key)
    if path is None or not path.is_file():
        path = _verified[key] = client.blob_path(blob)
    return path


_verified: dict[tuple[str, str], Path] = {}  # blobs this process has hashed, by store
