"""Content-addressed blobs on any fsspec filesystem (``s3://``, ``memory://``, ...)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3

from prodml.errors import DataReadError
from prodml.stores.blobs import (
    CHUNK,
    SMALL,
    BlobInfo,
    ensure_unchanged,
    hash_bytes,
    hash_file,
    missing_error,
    verified,
)


class FsspecArtifactStore:
    """Same layout and guarantees as the local store, through fsspec.

    Object stores make a single ``put`` atomic, so a blob appears whole or not at
    all; reads are verified, and a verified local copy is cached for tools that
    need a file path (DuckDB, model loading)."""

    def __init__(self, url: str, cache: Path) -> None:
        import fsspec

        self.url = url
        self.fs: Any
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self._cache = cache

    def _path(self, digest: str) -> str:
        return f"{self.root.rstrip('/')}/{digest[:2]}/{digest[2:]}"

    def put_file(self, path: Path, digest: str | None = None) -> tuple[str, int]:
        before = path.stat()
        if before.st_size <= SMALL and digest is None:
            return self.put_bytes(path.read_bytes())
        digest = digest or hash_file(path)
        if not self._intact(digest, before.st_size):
            target = self._path(digest)
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(path), target)
            try:
                ensure_unchanged(path, before)
            except DataReadError:
                self.fs.rm_file(target)  # its bytes may not match the digest
                raise
        return digest, before.st_size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """A small blob is written every time: one request that renews its time (so gc's
        grace period covers its new use) and repairs it if it was damaged."""
        digest = hash_bytes(data)
        if len(data) <= SMALL or not self._intact(digest, len(data)):
            target = self._path(digest)
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(target, data)
        return digest, len(data)

    def _intact(self, digest: str, size: int) -> bool:
        """Whether a large blob is there with its size and bytes: it is read and hashed
        before it is reused, else it is written again."""
        path = self._path(digest)
        try:
            if int(self.fs.info(path)["size"]) != size:
                return False
            hasher = blake3.blake3()
            with self.fs.open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    hasher.update(chunk)
        except FileNotFoundError:
            return False
        return hasher.hexdigest() == digest

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def read_bytes(self, digest: str) -> bytes:
        try:
            data = bytes(self.fs.cat_file(self._path(digest)))
        except FileNotFoundError:
            raise missing_error(digest) from None
        return verified(digest, data)

    def local_path(self, digest: str) -> Path:
        cached = self._cache / digest
        if cached.is_file() and hash_file(cached) == digest:
            return cached
        self._cache.mkdir(parents=True, exist_ok=True)
        temporary = self._cache / f".{uuid.uuid4().hex}"
        temporary.write_bytes(self.read_bytes(digest))
        temporary.replace(cached)
        return cached

    def list_blobs(self) -> Iterator[BlobInfo]:
        if not self.fs.exists(self.root):
            return
        for info in self.fs.find(self.root, detail=True).values():
            parts = info["name"].rstrip("/").rsplit("/", 2)
            if len(parts) == 3 and len(parts[1]) == 2:
                yield BlobInfo(parts[1] + parts[2], int(info["size"]), _modified(info))

    def delete(self, digest: str, older_than: float | None = None) -> bool:
        """Delete a blob; with ``older_than``, only if nothing wrote it since that time.
        An object store has no atomic move, so the check and the delete are two steps
        (a put in between renews the time after the check: a window of one request)."""
        path = self._path(digest)
        try:
            modified = _modified(self.fs.info(path))
        except FileNotFoundError:
            return False
        if older_than is not None and modified > older_than:
            return False
        self.fs.rm_file(path)
        return True


def _modified(info: dict[str, Any]) -> float:
    """When an object was last written, from what its filesystem reports."""
    modified: Any = info.get("mtime") or info.get("LastModified") or info.get("created")
    stamp = modified.timestamp() if hasattr(modified, "timestamp") else modified
    return float(stamp or 0.0)
