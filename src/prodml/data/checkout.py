"""Reading files of a dataset version back: one file, or the whole version into a
folder, each file verified against its digest."""

from __future__ import annotations

import os
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
    """Write every file of a version under ``destination`` (which must be empty)."""
    entries = _files(client, version)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise InvalidInputError(
            f"{destination} exists and is not an empty folder. Check out into a new folder."
        )
    written: list[Path] = []
    packs: dict[str, bytes] = {}
    for entry in sorted(entries, key=lambda e: (e.pack or "", e.offset or 0)):
        relative = PurePosixPath(entry.path)
        if relative.is_absolute() or ".." in relative.parts:
            raise InvalidInputError(f"Refusing to write {entry.path!r} outside {destination}.")
        target = destination.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.prodml-tmp")
        temporary.write_bytes(_content(client, entry, packs))
        os.replace(temporary, target)
        written.append(target)
    return sorted(written)
