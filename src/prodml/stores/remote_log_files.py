"""The prediction log's files on an object store or any fsspec filesystem
(``s3://bucket/prefix``): one ``PUT`` a file, listings never cached, a claim made by a
conditional ``PUT``. See :mod:`prodml.stores.log_files` for the contract."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

import pyarrow.parquet as pq

from prodml.errors import ProdmlError, StoreError
from prodml.settings import refuse_credentials
from prodml.stores.log_files import CLAIMED, Entry, LogFiles
from prodml.stores.remote_blobs import OBJECT_STORES, failure_types
from prodml.stores.remote_failures import bucket_missing, explain


class RemoteLogFiles(LogFiles):
    """Any fsspec filesystem; one ``PUT`` a file, listings never cached."""

    remote = True

    def __init__(self, url: str) -> None:
        import fsspec

        super().__init__()
        refuse_credentials("log_url", url)
        self.url = url.rstrip("/")
        self.fs: Any
        self.fs, root = fsspec.core.url_to_fs(
            self.url, skip_instance_cache=True, use_listings_cache=False
        )
        self.root = str(root).rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.protocol = str(protocols[0])
        self._s3 = "s3" in protocols
        self._object_store = bool(OBJECT_STORES.intersection(protocols))
        self._failures = failure_types(self._s3)

    def _full(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def path(self, key: str) -> str:
        return f"{self.protocol}://{self._full(key)}"

    def key_of(self, path: str) -> str:
        bare = path.split("://", 1)[-1]
        return bare.removeprefix(self.root).lstrip("/")

    def write(self, key: str, write: Callable[[BinaryIO], object]) -> str:
        buffer = io.BytesIO()
        write(buffer)
        with self._failing(f"write {key}"):
            if not self._object_store:
                self.fs.makedirs(self._full(key).rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(self._full(key), buffer.getvalue())
        return self.path(key)

    def files(self, folder: str, prefix: str = "") -> list[Entry]:
        base = self._full(folder)
        with self._failing(f"list {folder or 'the log'}"):
            try:
                if self._s3:  # one listing of the prefix, not of the whole folder
                    found = self.fs.find(base, maxdepth=1, prefix=prefix, detail=True).values()
                else:
                    found = self.fs.ls(base, detail=True)
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                return []
        entries = []
        for info in found:
            name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
            if info.get("type") == "directory" or name[:1] == "." or not name.startswith(prefix):
                continue
            key = f"{folder}/{name}" if folder else name
            entries.append(Entry(key, int(info.get("size") or 0), _modified(info)))
        return sorted(entries, key=lambda e: e.key)

    def folders(self, folder: str) -> list[str]:
        with self._failing(f"list {folder or 'the log'}"):
            try:
                found = self.fs.ls(self._full(folder), detail=True)
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                return []
        return sorted(
            str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
            for info in found
            if info.get("type") == "directory"
        )

    def read(self, key: str) -> bytes:
        with self._failing(f"read {key}"):
            return bytes(self.fs.cat_file(self._full(key)))

    def delete(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        with self._failing(f"delete {len(keys)} file(s)"):
            present = [k for k in keys if self.fs.exists(self._full(k))]
            if present:
                self.fs.rm([self._full(k) for k in present])
        self.forget(keys)
        return len(present)

    def delete_folder(self, folder: str) -> tuple[int, int]:
        """Every object under the folder's prefix, deleted in batches (one request a
        thousand keys on S3)."""
        with self._failing(f"delete {folder}"):
            try:
                found = self.fs.find(self._full(folder), detail=True)
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                return 0, 0
            if found:
                self.fs.rm(sorted(found))
        self._footers.clear()
        return len(found), sum(int(info.get("size") or 0) for info in found.values())

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        """A marker object created only if absent (a conditional ``PUT``), holding its
        expiry; an expired marker (its holder killed) is taken over."""
        target = self._full(key)
        marker = json.dumps({"until": time.time() + CLAIMED, "pid": os.getpid()}).encode()
        with self._failing(f"claim {key}"):
            held = self._create(target, marker)
            if not held and self._lapsed(target):
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(target)
                held = self._create(target, marker)
        try:
            yield held
        finally:
            if held:
                with contextlib.suppress(*self._failures):
                    self.fs.rm_file(target)

    def _create(self, target: str, data: bytes) -> bool:
        try:
            if self._s3:
                self.fs.pipe_file(target, data, mode="create")
            else:
                if self.fs.exists(target):
                    return False
                self.fs.pipe_file(target, data)
        except FileExistsError:
            return False
        except self._failures as error:
            if "PreconditionFailed" in str(error) or "412" in str(error):
                return False
            raise
        return True

    def _lapsed(self, target: str) -> bool:
        try:
            held = json.loads(self.fs.cat_file(target))
            return float(held["until"]) < time.time()
        except FileNotFoundError:
            return True
        except (ValueError, KeyError, TypeError):
            return True  # not a marker this code wrote: taken over

    def attach(self, connection: Any) -> None:
        connection.register_filesystem(self.fs)

    def _read_footer(self, key: str) -> pq.FileMetaData:
        with self._failing(f"read {key}"), self.fs.open(self._full(key), "rb") as handle:
            return pq.read_metadata(handle)

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (ProdmlError, FileNotFoundError):
            raise
        except self._failures as error:
            message = explain(error, doing, self.url, self.root.split("/", 1)[0], self.fs)
            raise StoreError(message) from None


def _modified(info: dict[str, Any]) -> float:
    modified: Any = info.get("mtime") or info.get("LastModified") or info.get("created")
    stamp = modified.timestamp() if hasattr(modified, "timestamp") else modified
    return float(stamp or 0.0)
