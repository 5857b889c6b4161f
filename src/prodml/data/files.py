"""Files and folders: hashed and stored as blobs, with progress.

Files are stored one after another: small files cost a few system calls each
and threads only add lock contention (measured: 2x slower on 5,000 files of
4 KiB), while a large file is hashed on all cores and copied in the kernel."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import blake3

from prodml.domain.dataset import FileEntry
from prodml.errors import DataReadError, InvalidInputError
from prodml.stores.blobs import ArtifactStore

Progress = Callable[[int, int], None]


def list_files(root: Path) -> list[Path]:
    """Every regular file under ``root``, in a stable order."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, subfolders, names in os.walk(root, onerror=_unreadable):
        subfolders.sort()
        found.extend(Path(folder) / name for name in sorted(names))
    if not found:
        raise InvalidInputError(f"Folder {root} has no files to log. Point at a non-empty folder.")
    return found


def _unreadable(error: OSError) -> None:
    raise DataReadError(f"Cannot read {error.filename}: {error.strerror}. Check its permissions.")


def _read_error(path: Path, error: OSError) -> DataReadError:
    return DataReadError(
        f"Cannot read {path}: {error.strerror}. Check that it exists (not a broken link) "
        "and that its permissions let you read it."
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as error:
        raise _read_error(path, error) from None


def store_files(
    root: Path, store: ArtifactStore, progress: Progress | None = None
) -> list[FileEntry]:
    """Store each file as a blob; paths are relative to ``root`` (a file keeps its name)."""
    files = list_files(root)
    base = root.parent if root.is_file() else root
    total = sum(_size(path) for path in files)
    done = 0

    def put(path: Path) -> FileEntry:
        try:
            digest, size = store.put_file(path)
        except (PermissionError, FileNotFoundError) as error:
            raise _read_error(path, error) from None
        return FileEntry(path.relative_to(base).as_posix(), digest, size)

    entries = []
    for path in files:
        entry = put(path)
        entries.append(entry)
        done += entry.size
        if progress is not None:
            progress(done, total)
    return entries


def manifest_digest(entries: list[FileEntry]) -> str:
    """The version id of a set of files: BLAKE3 of its sorted manifest."""
    hasher = blake3.blake3()
    for entry in sorted(entries, key=lambda e: e.path):
        hasher.update(f"{entry.path}\t{entry.digest}\t{entry.size}\n".encode())
    return str(hasher.hexdigest())
