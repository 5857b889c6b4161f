"""Profiling a large stored table version in parts, on any executor (this process, or
Ray tasks): each part reads its rows from the version's verified Parquet blob and
profiles them; the parts' profiles merge into the version's as any profiles merge
(counts, nulls, extremes and sums exactly; quantile and distinct-count sketches as
their merges do, within the sketches' stated error).

A part gets plain data (:class:`ProfileJob`: the settings, not a client), so that a
process elsewhere reads the blob through a client of its own."""

from __future__ import annotations

import dataclasses
import functools

from prodml.client import Client
from prodml.data.executors import Executor, Progress, map_partitions, row_ranges
from prodml.data.profile import TableProfile, merge_all, profile_table
from prodml.data.stored_tables import read_rows
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.errors import InvalidInputError, NotFoundError
from prodml.settings import Settings


@dataclasses.dataclass(frozen=True)
class ProfileJob:
    settings: Settings
    blob: str
    label: str


def profile_in_parts(
    client: Client,
    version: DatasetVersion,
    executor: Executor,
    partitions: int | None = None,
    progress: Progress | None = None,
) -> TableProfile:
    """The profile of a table version made in ``partitions`` parts of contiguous rows
    (default: as many as the executor runs at once) and merged in the parts' order."""
    if version.kind is not DatasetKind.TABLE:
        raise InvalidInputError(
            f"Dataset {version.ref} is a set of files; only tables have profiles. "
            "Profile a table dataset instead."
        )
    blob = client.metadata.dataset_blob(version)
    if blob is None:
        raise NotFoundError(f"Dataset {version.ref} has no stored table.")
    rows = version.num_rows
    if rows is None:
        rows = _count(client, blob)
    ranges = row_ranges(rows, partitions or executor.workers)
    job = ProfileJob(client.settings, blob, version.ref)
    made = map_partitions(functools.partial(profile_part, job), ranges, executor, progress)
    profile = merge_all([TableProfile.from_bytes(raw) for raw in made])
    profile.label = version.ref
    return profile


def profile_part(job: ProfileJob, rows: tuple[int, int]) -> bytes:
    """The serialised profile of rows ``[start, stop)`` of the job's table."""
    client = Client(**dataclasses.asdict(job.settings))
    try:
        table = read_rows(client, job.blob, *rows)
    finally:
        client.close()
    return profile_table(table, job.label).to_bytes()


def _count(client: Client, blob: str) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(client.blob_path(blob)).metadata.num_rows)
