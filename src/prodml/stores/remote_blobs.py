"""Content-addressed blobs on any fsspec filesystem (``s3://``, ``memory://``, ...)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prodml.errors import DataReadError
from prodml.stores.blobs import (
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
        digest = digest or hash_file(path)
        if not self.exists(digest):
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
        digest = hash_bytes(data)
        if not self.exists(digest):
            target = self._path(digest)
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(target, data)
        return digest, len(data)

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
                modified = info.get("mtime") or info.get("LastModified") or info.get("created")
                stamp = modified.timestamp() if hasattr(modified, "timestamp") else modified
                yield BlobInfo(parts[1] + parts[2], int(info["size"]), float(stamp or 0.0))

    def delete(self, digest: str) -> None:
        if self.exists(digest):
            self.fs.rm_file(self._path(digest))
