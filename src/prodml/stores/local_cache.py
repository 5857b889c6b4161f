"""A folder of local copies of remote files kept within a size: each read marks its
copies as recently read, and once the folder holds more than its bound the least
recently read copies leave first (down to 80% of it), never those the current read
needs. Used by the blob store's copies (model files, dataset tables a tool reads by
path) and the prediction log's copies (the files DuckDB reads)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Collection, Iterable
from pathlib import Path

CACHE_BYTES = 4 << 30  # the local copies kept in one cache folder, at most


def touch(paths: Iterable[Path]) -> None:
    """Mark copies as just read: the last to leave the cache."""
    now = time.time()
    for path in paths:
        with contextlib.suppress(OSError):
            os.utime(path, (now, now))


def evict(folder: Path, pattern: str, keep: Collection[Path], bound: int = CACHE_BYTES) -> None:
    """Remove the least recently read copies matching ``pattern`` under ``folder`` once
    they hold more than ``bound`` bytes (never those in ``keep``: a read larger than the
    bound keeps its copies until the next read). Copies another process is removing
    at the same time are skipped."""
    found = []
    for path in folder.rglob(pattern):
        with contextlib.suppress(OSError):
            status = path.stat()
            found.append((status.st_atime, status.st_size, path))
    total = sum(size for _, size, _ in found)
    if total <= bound:
        return
    for _, size, path in sorted(found, key=lambda item: item[0]):
        if total <= bound * 0.8:
            break
        if path not in keep:
            path.unlink(missing_ok=True)
            total -= size
