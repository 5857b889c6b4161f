"""A table dataset version read back from its verified Parquet blob."""

from __future__ import annotations

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
