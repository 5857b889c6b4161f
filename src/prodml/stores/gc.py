"""Garbage collection: delete blobs no stored object refers to.

Blobs younger than the grace period are kept: a writer stores a blob before
the row that refers to it, so a fresh unreferenced blob may be in flight."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prodml.stores.blobs import ArtifactStore, BlobInfo
from prodml.stores.metadata import MetadataStore

GRACE_SECONDS = 3600.0


@dataclass(frozen=True)
class GcReport:
    unreferenced: tuple[BlobInfo, ...]
    kept_young: int
    referenced: int
    deleted: bool

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.unreferenced)


def collect(
    metadata: MetadataStore, artifacts: ArtifactStore, delete: bool, grace: float = GRACE_SECONDS
) -> GcReport:
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
    if delete:
        for blob in unreferenced:
            artifacts.delete(blob.digest)
        if unreferenced:
            metadata.record_event(
                "gc.deleted",
                ("store", "blobs"),
                None,
                {"blobs": len(unreferenced), "bytes": sum(b.size for b in unreferenced)},
            )
    return GcReport(tuple(unreferenced), young, kept, delete)
