"""Diffs between two versions of a set of files: files added, removed and changed."""

from __future__ import annotations

from prodml.client import Client
from prodml.domain.dataset import ColumnChange, DatasetDiff, DatasetVersion


def diff_file_sets(client: Client, before: DatasetVersion, after: DatasetVersion) -> DatasetDiff:
    old = {entry.path: entry for entry in client.metadata.dataset_files(before.id)}
    new = {entry.path: entry for entry in client.metadata.dataset_files(after.id)}
    changed = [path for path in old.keys() & new.keys() if old[path].digest != new[path].digest]
    sizes = []
    if before.num_bytes != after.num_bytes:
        sizes.append(ColumnChange("(files)", "bytes", before.num_bytes, after.num_bytes))
    return DatasetDiff(
        before=before,
        after=after,
        schema_changes=(),
        rows_before=before.num_files,
        rows_after=after.num_files,
        rows_added=len(new.keys() - old.keys()),
        rows_removed=len(old.keys() - new.keys()),
        rows_changed=len(changed),
        column_changes=tuple(sizes),
        matched_by="file path",
    )
