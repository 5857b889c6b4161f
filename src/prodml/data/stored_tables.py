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
