"""Garbage collection: delete blobs no stored object refers to.

Blobs younger than the grace period are kept: a writer stores (or reuses, which
renews its time) a blob before the row that refers to it, so a fresh unreferenced
blob may be in flight. A collection takes time, so each blob is judged twice: once
when the store is scanned, and again just before it is deleted (its references
per batch, its age as it is deleted), so a blob that a writer reused while the
collection ran is kept."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prodml.stores.blobs import ArtifactStore, BlobInfo
from prodml.stores.protocol import MetadataStore

GRACE_SECONDS = 3600.0
BATCH = 500  # blobs whose references are checked again in one query


@dataclass(frozen=True)
class GcReport:
    unreferenced: tuple[BlobInfo, ...]  # deleted, when ``deleted``
    kept_young: int
    referenced: int
    deleted: bool

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.unreferenced)


def collect(
    metadata: MetadataStore, artifacts: ArtifactStore, delete: bool, grace: float = GRACE_SECONDS
) -> GcReport:
    found = scan(metadata, artifacts, grace)
    return remove(metadata, artifacts, found, grace) if delete else found


def scan(metadata: MetadataStore, artifacts: ArtifactStore, grace: float) -> GcReport:
    """What a collection would delete now; deletes nothing."""
    referenced = metadata.referenced_digests()
    cutoff = time.time() - grace
    unreferenced, young, kept = [], 0, 0
    for blob in artifacts.list_blobs():
        if blob.digest in referenced:
            kept += 1
        elif blob.modified > cutoff:
            young += 1
        else:
            unreferenced.append(blob)
    return GcReport(tuple(unreferenced), young, kept, False)


def remove(
    metadata: MetadataStore, artifacts: ArtifactStore, found: GcReport, grace: float
) -> GcReport:
    """Delete what ``scan`` found, each blob judged again just before: one that is
    referenced or was reused since the scan is kept and counted as referenced."""
    deleted: list[BlobInfo] = []
    for batch in _batches(found.unreferenced):
        referenced = metadata.referenced_among([blob.digest for blob in batch])
        cutoff = time.time() - grace
        for blob in batch:
            if blob.digest not in referenced and artifacts.delete(blob.digest, cutoff):
                deleted.append(blob)
    if deleted:
        metadata.record_event(
            "gc.deleted",
            ("store", "blobs"),
            None,
            {"blobs": len(deleted), "bytes": sum(blob.size for blob in deleted)},
        )
    kept = found.referenced + len(found.unreferenced) - len(deleted)
    return GcReport(tuple(deleted), found.kept_young, kept, True)


def _batches(blobs: Sequence[BlobInfo]) -> Iterator[Sequence[BlobInfo]]:
    for start in range(0, len(blobs), BATCH):
        yield blobs[start : start + BATCH]
