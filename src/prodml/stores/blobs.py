"""Content-addressed blobs: BLAKE3 digests, atomic writes, verified reads.

A blob lives at ``<root>/<digest[:2]>/<digest[2:]>``. The local store uses the
operating system directly (a copy is one ``copy_file_range`` in the kernel);
any other fsspec URL (``s3://``, ``memory://``) goes through fsspec with the same
layout. Both verify the digest on every read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import blake3

from prodml.errors import DataReadError, IntegrityError, NotFoundError

CHUNK = 8 << 20
SMALL = 4 << 20
_THREADS_FROM = 64 << 20


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int
    modified: float


def hash_bytes(data: bytes | memoryview) -> str:
    return blake3.blake3(data).hexdigest()


def hash_file(path: Path) -> str:
    """BLAKE3 of a file: memory-mapped, on all cores for large files."""
    size = path.stat().st_size
    if size == 0:
        return blake3.blake3(b"").hexdigest()
    threads = blake3.blake3.AUTO if size >= _THREADS_FROM else 1
    hasher = blake3.blake3(max_threads=threads)
    if size < CHUNK:
        hasher.update(path.read_bytes())
    else:
        hasher.update_mmap(path)
    return hasher.hexdigest()


class ArtifactStore(Protocol):
    url: str

    def put_file(
        self, path: Path, digest: str | None = None, owned: bool = False
    ) -> tuple[str, int]: ...
    def put_bytes(self, data: bytes) -> tuple[str, int]: ...
    def exists(self, digest: str) -> bool: ...
    def read_bytes(self, digest: str) -> bytes: ...
    def local_path(self, digest: str) -> Path: ...
    def list_blobs(self) -> Iterator[BlobInfo]: ...
    def delete(self, digest: str, older_than: float | None = None) -> bool: ...


def _moved(path: Path, target: Path) -> bool:
    """Whether ``path`` could be renamed to ``target`` (not across disks)."""
    try:
        os.replace(path, target)
    except OSError:
        return False
    return True


def _fsync(path: Path) -> None:
    """Flush a file's bytes, or a folder's entries, to the disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def ensure_unchanged(path: Path, before: os.stat_result) -> None:
    """Refuse a file that was written to while it was being stored."""
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise DataReadError(
            f"File {path} changed while it was being stored. Log it again once "
            "nothing is writing to it."
        )


def verified(digest: str, data: bytes) -> bytes:
    """``data`` if it hashes to ``digest``; else an IntegrityError naming both."""
    actual = hash_bytes(data)
    if actual != digest:
        raise integrity_error(digest, actual)
    return data


def integrity_error(digest: str, actual: str) -> IntegrityError:
    return IntegrityError(
        f"Blob {digest} is corrupt: its bytes now hash to {actual}. "
        "Restore it from a backup, or log the same content again to rewrite it."
    )


def missing_error(digest: str) -> NotFoundError:
    return NotFoundError(
        f"Blob {digest} is missing from the artifact store. "
        "Restore it from a backup or re-log the object that references it."
    )


class LocalArtifactStore:
    """Blobs in a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)
        self._tmp = root / "tmp"
        self._folders: set[str] = set()

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def _commit(self, temporary: Path, digest: str) -> None:
        """Rename a complete temporary file into place: readers see all or nothing. Its
        bytes reach the disk before the rename, and the rename before the caller stores
        the row that refers to it, so a power cut never leaves a named blob unwritten."""
        folder = self.root / digest[:2]
        if digest[:2] not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(digest[:2])
        _fsync(temporary)
        os.chmod(temporary, 0o444)
        with contextlib.suppress(FileNotFoundError):  # a damaged blob being replaced
            os.chmod(self._path(digest), 0o644)
        os.replace(temporary, self._path(digest))
        _fsync(folder)

    def _temporary(self) -> Path:
        if "tmp" not in self._folders:
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._folders.add("tmp")
        return self._tmp / uuid.uuid4().hex

    def put_file(
        self, path: Path, digest: str | None = None, owned: bool = False
    ) -> tuple[str, int]:
        """Store a file's bytes as a blob. ``owned``: the file is the caller's scratch,
        which the store may take (renamed into place on the same disk, not copied)."""
        before = path.stat()
        if before.st_size <= SMALL and digest is None:
            return self.put_bytes(path.read_bytes())
        digest = digest or hash_file(path)
        if self._missing(digest, before.st_size):
            temporary = self._temporary()
            try:
                if not (owned and _moved(path, temporary)):
                    shutil.copyfile(path, temporary)
                    ensure_unchanged(path, before)
                self._commit(temporary, digest)
            finally:
                temporary.unlink(missing_ok=True)
        return digest, before.st_size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        digest = hash_bytes(data)
        if self._missing(digest, len(data)):
            temporary = self._temporary()
            try:
                handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
                try:
                    with memoryview(data) as view:
                        written = 0
                        while written < len(view):  # one write stops short of 2 GiB
                            written += os.write(handle, view[written:])
                finally:
                    os.close(handle)
                self._commit(temporary, digest)
            finally:
                temporary.unlink(missing_ok=True)
        return digest, len(data)

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def _missing(self, digest: str, size: int) -> bool:
        """Whether a put must write the blob: it is absent or damaged (wrong size or
        wrong bytes: a blob is hashed again before it is reused, at all-cores BLAKE3
        speed). A blob that is reused gets a fresh time, so gc's grace period covers its
        new use; if gc took it meanwhile, the put writes it again."""
        path = self._path(digest)
        try:
            if path.stat().st_size != size or hash_file(path) != digest:
                return True
            with contextlib.suppress(PermissionError):  # another user's shared store: a hit
                os.utime(path)
        except FileNotFoundError:
            return True
        return False

    def read_bytes(self, digest: str) -> bytes:
        try:
            data = self._path(digest).read_bytes()
        except FileNotFoundError:
            raise missing_error(digest) from None
        return verified(digest, data)

    def local_path(self, digest: str) -> Path:
        path = self._path(digest)
        if not path.is_file():
            raise missing_error(digest)
        actual = hash_file(path)
        if actual != digest:
            raise integrity_error(digest, actual)
        return path

    def list_blobs(self) -> Iterator[BlobInfo]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                stat = entry.stat()
                yield BlobInfo(folder.name + entry.name, stat.st_size, stat.st_mtime)

    def delete(self, digest: str, older_than: float | None = None) -> bool:
        """Delete a blob; with ``older_than``, only if nothing wrote or reused it since
        that time. The blob is first moved aside, so a put that reuses it at the same
        moment either renewed its time before the move (and it is put back) or finds
        it gone and writes it again. True if a blob was deleted."""
        path = self._path(digest)
        aside = self._temporary()
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        if older_than is not None and aside.stat().st_mtime > older_than:
            if not path.exists():  # else a put wrote it again: the same bytes
                os.replace(aside, path)
            aside.unlink(missing_ok=True)
            return False
        aside.unlink()
        return True
