"""Files and folders: hashed and stored as blobs, with progress.

Files are stored one after another: small files cost a few system calls each
and threads only add lock contention (measured: 2x slower on 5,000 files of
4 KiB), while a large file is hashed on all cores and copied in the kernel.
Small files are packed: on this disk creating 20,000 files takes 4-10 s, more
than reading and hashing them."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import blake3

from prodml.domain.dataset import FileEntry
from prodml.errors import DataReadError, InvalidInputError
from prodml.names import storable_text
from prodml.stores.blobs import ArtifactStore, hash_bytes

Progress = Callable[[int, int], None]
Stored = Callable[[list[str]], dict[str, FileEntry]]
PACK_BELOW = 256 << 10
PACK_BYTES = 64 << 20


class Listed(NamedTuple):
    """One file to store: its name in the dataset, where it is, and its size."""

    name: str
    path: str
    size: int


def list_files(root: Path) -> list[Listed]:
    """Every regular file under ``root`` in a stable order, named relative to it
    (a single file keeps its own name)."""
    if root.is_file():
        return [Listed(root.name, str(root), _size(str(root)))]
    if root.exists() and not root.is_dir():  # reading a named pipe would wait forever
        raise InvalidInputError(
            f"{root} is neither a file nor a folder (a named pipe, a socket or a device); "
            "give a file or a folder of files."
        )
    found: list[Listed] = []
    seen: set[str] = set()  # linked folders are followed, each real folder once
    for folder, subfolders, names in os.walk(root, onerror=_unreadable, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        subfolders.sort()
        relative = os.path.relpath(folder, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        for name in sorted(names):
            if not storable_text(name):
                raise DataReadError(
                    f"File name {os.path.join(folder, name)!r} is not valid UTF-8; "
                    "rename it to log the folder."
                )
            path = os.path.join(folder, name)
            found.append(Listed(prefix + name, path, _size(path)))
    if not found:
        raise InvalidInputError(f"Folder {root} has no files to log. Point at a non-empty folder.")
    return found


def _unreadable(error: OSError) -> None:
    raise DataReadError(f"Cannot read {error.filename}: {error.strerror}. Check its permissions.")


def _read_error(path: str, error: OSError) -> DataReadError:
    return DataReadError(
        f"Cannot read {path}: {error.strerror}. Check that it exists (not a broken link) "
        "and that its permissions let you read it."
    )


def _size(path: str) -> int:
    """The size of a regular file; anything else in a folder is refused by name."""
    try:
        found = os.stat(path)
    except OSError as error:
        raise _read_error(path, error) from None
    if not stat.S_ISREG(found.st_mode):
        raise InvalidInputError(
            f"{path} is not a regular file (a named pipe, a socket or a device), which "
            "cannot be stored: move it out of the folder, then log the folder again."
        )
    return found.st_size


def store_files(
    root: Path,
    store: ArtifactStore,
    stored: Stored,
    progress: Progress | None = None,
) -> list[FileEntry]:
    """Store every file under ``root``; paths are relative to it (a file keeps its name).

    Large files become blobs of their own. Small files of a folder are stored in
    pack blobs of up to PACK_BYTES: creating one file per 4 KiB costs more than
    the bytes do. A file already stored by an earlier version is not stored again."""
    files = list_files(root)
    total = sum(listed.size for listed in files)
    single = root.is_file()
    packer = _Packer(store, stored)
    entries: list[FileEntry] = []
    done = 0
    for listed in files:
        if listed.size >= PACK_BELOW or single:
            entries.append(_put(store, listed))
        else:
            entries.extend(packer.add(listed.name, _read(listed.path)))
        done += listed.size
        if progress is not None:
            progress(done, total)
    entries.extend(packer.close())
    return sorted(entries, key=lambda entry: entry.path)


def _put(store: ArtifactStore, listed: Listed) -> FileEntry:
    try:
        digest, size = store.put_file(Path(listed.path))
    except (PermissionError, FileNotFoundError) as error:
        raise _read_error(listed.path, error) from None
    return FileEntry(path=listed.name, digest=digest, size=size)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise _read_error(path, error) from None


class _Packer:
    """Collects small files and writes them as one pack blob per PACK_BYTES."""

    def __init__(self, store: ArtifactStore, stored: Stored) -> None:
        self.store = store
        self.stored = stored
        self.pending: list[tuple[str, str, bytes]] = []
        self.pending_bytes = 0

    def add(self, name: str, data: bytes) -> list[FileEntry]:
        self.pending.append((name, hash_bytes(data), data))
        self.pending_bytes += len(data)
        return self.close() if self.pending_bytes >= PACK_BYTES else []

    def close(self) -> list[FileEntry]:
        if not self.pending:
            return []
        known = self.stored([digest for _, digest, _ in self.pending])
        placed: dict[str, tuple[str | None, int | None]] = {
            digest: (entry.pack, entry.offset) for digest, entry in known.items()
        }
        parts: list[bytes] = []
        offset = 0
        fresh: list[str] = []
        for _, digest, data in self.pending:
            if digest not in placed:
                placed[digest] = (None, offset)
                fresh.append(digest)
                parts.append(data)
                offset += len(data)
        pack = self.store.put_bytes(b"".join(parts))[0] if parts else None
        for digest in fresh:
            placed[digest] = (pack, placed[digest][1])
        entries = [
            FileEntry(
                path=name,
                digest=digest,
                size=len(data),
                pack=placed[digest][0],
                offset=placed[digest][1],
            )
            for name, digest, data in self.pending
        ]
        self.pending, self.pending_bytes = [], 0
        return entries


def manifest_digest(entries: list[FileEntry]) -> str:
    """The version id of a set of files: BLAKE3 of its sorted manifest."""
    hasher = blake3.blake3()
    for entry in sorted(entries, key=lambda e: e.path):
        hasher.update(f"{json.dumps(entry.path)}\t{entry.digest}\t{entry.size}\n".encode())
    return str(hasher.hexdigest())
