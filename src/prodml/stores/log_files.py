"""Where the prediction log's files live: a local folder (the embedded default) or any
fsspec URL (``s3://bucket/prefix``), behind one small interface.

The log writes each file once under a name no other writer uses, and never changes
it: a file appears whole or not at all (a local file is written to a hidden name,
synced and renamed; an object store makes one ``PUT`` atomic), so readers need no
locks and a file's footer, once read, is kept (:meth:`LogFiles.footer`).

Keys are ``/``-separated paths below the root. Listing is bounded by a name prefix
within one folder (the log's names start with the time, so an hour is one prefix).
Credentials come from the filesystem's own environment (for ``s3://``: the AWS
variables, profile or role, and ``AWS_ENDPOINT_URL``), never from the URL; a failed
request becomes a :class:`StoreError` naming the URL and the next step, without the
secret."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

FOOTERS = 20_000  # footers kept in memory (a few KiB each): a day of 1-second segments
CLAIMED = 15 * 60.0  # seconds a claim on an object store holds unless given back


@dataclass(frozen=True)
class Entry:
    key: str  # below the root
    size: int
    modified: float  # epoch seconds it was written

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class LogFiles:
    """The operations the log needs; :func:`open_log_files` picks the implementation."""

    url: str
    remote: bool

    def __init__(self) -> None:
        self._footers: OrderedDict[str, pq.FileMetaData] = OrderedDict()

    def path(self, key: str) -> str:
        """What DuckDB and pyarrow read for ``key``: a local path or a URL."""
        raise NotImplementedError

    def key_of(self, path: str) -> str:
        """The key of a :meth:`path` (e.g. a file name DuckDB reports)."""
        raise NotImplementedError

    def write(self, key: str, write: Callable[[BinaryIO], object]) -> str:
        """Write a new file at ``key`` in one piece; returns its :meth:`path`."""
        raise NotImplementedError

    def files(self, folder: str, prefix: str = "") -> list[Entry]:
        """The files directly in ``folder`` whose names start with ``prefix`` (hidden
        names, starting with ``.``, left out), in name order."""
        raise NotImplementedError

    def folders(self, folder: str) -> list[str]:
        """The names of the folders directly in ``folder``, in order."""
        raise NotImplementedError

    def listings(self, wanted: Sequence[tuple[str, str]]) -> list[list[Entry]]:
        """:meth:`files` of each ``(folder, prefix)``, in order (an object store lists
        them all at once: a request each, not a round trip each)."""
        return [self.files(folder, prefix) for folder, prefix in wanted]

    def folder_lists(self, folders: Sequence[str]) -> list[list[str]]:
        """:meth:`folders` of each of ``folders``, in order (at once, as :meth:`listings`)."""
        return [self.folders(folder) for folder in folders]

    def read(self, key: str) -> bytes:
        raise NotImplementedError

    def delete(self, keys: Sequence[str]) -> int:
        """Delete the files at ``keys`` (those already gone are skipped); how many were."""
        raise NotImplementedError

    def delete_folder(self, folder: str) -> tuple[int, int]:
        """Delete ``folder`` and every file in it; how many files and bytes were."""
        raise NotImplementedError

    def claim(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """Whether this process holds ``key``'s claim, for the ``with`` block: at most one
        holder at a time (an object store's claim lapses after :data:`CLAIMED` seconds if
        its holder was killed; work done under a claim must be safe to do twice)."""
        raise NotImplementedError

    def local_paths(self, paths: Sequence[str]) -> list[str]:
        """Local files holding the files at ``paths`` (:meth:`path` s), in order, for
        DuckDB to read: the files themselves on a local folder; on an object store,
        copies in a local cache, fetched together the first time (files never change,
        so a copy is good for as long as it is kept)."""
        return list(paths)

    def footers(self, keys: Sequence[str]) -> None:
        """Read the footers of ``keys`` not read yet (an object store fetches them at
        once), so that :meth:`footer` answers from memory; a file deleted since it was
        listed, or not Parquet (empty, cut short, foreign), is skipped (:meth:`footer`
        says so when asked)."""
        for key in keys:
            with contextlib.suppress(OSError, pa.ArrowException):
                self.footer(key)

    def footer(self, key: str) -> pq.FileMetaData:
        """The Parquet footer of the file at ``key``, read once (files never change)."""
        found = self._footers.get(key)
        if found is not None:
            self._footers.move_to_end(key)
            return found
        found = self._read_footer(key)
        self._keep(key, found)
        return found

    def _keep(self, key: str, footer: pq.FileMetaData) -> None:
        self._footers[key] = footer
        if len(self._footers) > FOOTERS:
            self._footers.popitem(last=False)

    def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._footers.pop(key, None)

    def _read_footer(self, key: str) -> pq.FileMetaData:
        raise NotImplementedError


class LocalLogFiles(LogFiles):
    """A local folder: files written to a hidden name, synced and renamed."""

    remote = False

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.root = folder
        self.url = str(folder)

    def path(self, key: str) -> str:
        return str(self.root / key)

    def key_of(self, path: str) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def write(self, key: str, write: Callable[[BinaryIO], object]) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        with temporary.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        return str(target)

    def files(self, folder: str, prefix: str = "") -> list[Entry]:
        base = self.root / folder
        found = []
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            if entry.name[:1] == "." or not entry.name.startswith(prefix):
                continue
            try:
                if not entry.is_file():
                    continue
                status = entry.stat()
            except FileNotFoundError:  # deleted since listed
                continue
            key = f"{folder}/{entry.name}" if folder else entry.name
            found.append(Entry(key, status.st_size, status.st_mtime))
        return sorted(found, key=lambda e: e.key)

    def folders(self, folder: str) -> list[str]:
        base = self.root / folder
        try:
            return sorted(e.name for e in os.scandir(base) if e.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def delete(self, keys: Sequence[str]) -> int:
        deleted = 0
        for key in keys:
            try:
                (self.root / key).unlink()
                deleted += 1
            except FileNotFoundError:
                pass
        self.forget(keys)
        return deleted

    def delete_folder(self, folder: str) -> tuple[int, int]:
        import shutil

        base = self.root / folder
        counted = [p.stat().st_size for p in base.rglob("*") if p.is_file()]
        shutil.rmtree(base, ignore_errors=True)
        self._footers.clear()
        return len(counted), sum(counted)

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(handle)  # releases the lock

    def _read_footer(self, key: str) -> pq.FileMetaData:
        return pq.read_metadata(self.root / key)
