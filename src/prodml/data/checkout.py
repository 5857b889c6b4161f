"""Reading files of a dataset version back: one file, or the whole version into a
folder, each file verified against its digest."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from prodml.client import Client
from prodml.domain.dataset import DatasetKind, DatasetVersion, FileEntry
from prodml.errors import InvalidInputError, NotFoundError
from prodml.stores.blobs import verified


def _files(client: Client, version: DatasetVersion) -> list[FileEntry]:
    if version.kind is not DatasetKind.FILES:
        raise InvalidInputError(
            f"Dataset {version.ref} is a table; read it with prodml.load_table({version.ref!r})."
        )
    return client.metadata.dataset_files(version.id)


def _content(client: Client, entry: FileEntry, packs: dict[str, bytes]) -> bytes:
    if entry.pack is None:
        return client.read_blob(entry.digest)
    if entry.pack not in packs:
        packs.clear()  # keep one pack in memory at a time
        packs[entry.pack] = client.read_blob(entry.pack)
    start = entry.offset or 0
    return verified(entry.digest, packs[entry.pack][start : start + entry.size])


def read_file(client: Client, version: DatasetVersion, path: str) -> bytes:
    """The verified bytes of one file of a files-kind version."""
    for entry in _files(client, version):
        if entry.path == path:
            return _content(client, entry, {})
    raise NotFoundError(
        f"Dataset {version.ref} has no file {path!r}. List its files: "
        f"prodml datasets show {version.ref}"
    )


def checkout(client: Client, version: DatasetVersion, destination: Path) -> list[Path]:
    """Write every file of a version under ``destination`` (new, or an empty folder).

    Files are written into a hidden folder beside it that is renamed into place
    at the end, so an error leaves nothing half-written; large files are copied
    from their verified blob, not read into memory."""
    entries = _files(client, version)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise InvalidInputError(
            f"{destination} exists and is not an empty folder. Check out into a new folder."
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        _write_all(client, entries, staging)
        if destination.exists():
            destination.rmdir()
        os.replace(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(destination.joinpath(*PurePosixPath(e.path).parts) for e in entries)


def _write_all(client: Client, entries: list[FileEntry], root: Path) -> None:
    packs: dict[str, bytes] = {}
    for entry in sorted(entries, key=lambda e: (e.pack or "", e.offset or 0)):
        relative = PurePosixPath(entry.path)
        if relative.is_absolute() or ".." in relative.parts:
            raise InvalidInputError(f"Refusing to write {entry.path!r} outside the folder.")
        target = root.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.pack is None:
            shutil.copyfile(client.blob_path(entry.digest), target)
        else:
            target.write_bytes(_content(client, entry, packs))
