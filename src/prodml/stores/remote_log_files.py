"""The prediction log's files on an object store or any fsspec filesystem
(``s3://bucket/prefix``): one ``PUT`` a file, listings never cached, a claim made by a
conditional ``PUT``. See :mod:`prodml.stores.log_files` for the contract.

Reading is shaped by the object store's cost, a request, and its latency: the
listings a reader needs are sent at once (:meth:`RemoteLogFiles.listings`), a footer
is one ranged ``GET`` of the file's tail (its size is known from the listing), many
fetched at once; a file a query reads is copied once into a local cache (many at once) and
DuckDB reads the copy, since every file is immutable once written. Reading through
DuckDB's registered filesystem instead cost about 30 requests a file and query (a
``HEAD`` for each size, time and existence DuckDB asks about). The cache keeps at
most :data:`CACHE_BYTES`, the least recently read files leaving first."""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from prodml.errors import ProdmlError, StoreError
from prodml.settings import refuse_credentials
from prodml.stores.local_cache import CACHE_BYTES, evict, touch
from prodml.stores.log_files import CLAIMED, Entry, LogFiles
from prodml.stores.remote_blobs import IN_FLIGHT, OBJECT_STORES, failure_types, modified_time
from prodml.stores.remote_failures import bucket_missing, explain

TAIL = 64 << 10  # bytes read from a file's end for its footer: most fit in one request


class RemoteLogFiles(LogFiles):
    """Any fsspec filesystem; one ``PUT`` a file, listings never cached."""

    remote = True

    def __init__(self, url: str, cache: Path | None = None) -> None:
        import fsspec
        from fsspec.asyn import AsyncFileSystem

        super().__init__()
        self.cache = cache or Path(tempfile.gettempdir()) / f"prodml-log-cache-{os.getuid()}"
        self._sizes: dict[str, int] = {}  # sizes of files listed, by key
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
        self._asynchronous = isinstance(self.fs, AsyncFileSystem)
        self._batch: dict[str, Any] = {"batch_size": IN_FLIGHT} if self._asynchronous else {}

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
        return self.listings([(folder, prefix)])[0]

    def listings(self, wanted: Sequence[tuple[str, str]]) -> list[list[Entry]]:
        """Each ``(folder, prefix)``'s files, listed at once: on S3 one ``LIST`` of the
        prefix each (not of the whole folder), all in flight together."""
        found = self._listed([(folder, prefix, False) for folder, prefix in wanted])
        return [
            self._entries(folder, prefix, infos)
            for (folder, prefix), infos in zip(wanted, found, strict=True)
        ]

    def folders(self, folder: str) -> list[str]:
        return self.folder_lists([folder])[0]

    def folder_lists(self, folders: Sequence[str]) -> list[list[str]]:
        found = self._listed([(folder, "", True) for folder in folders])
        return [
            sorted(
                str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
                for info in infos
                if info.get("type") == "directory"
            )
            for infos in found
        ]

    def _listed(self, wanted: Sequence[tuple[str, str, bool]]) -> list[list[dict[str, Any]]]:
        """What the filesystem lists for each ``(folder, prefix, of folders)``, every
        listing in flight at once on an asynchronous filesystem (a missing folder lists
        nothing; a missing bucket is an error)."""
        calls = [self._listing(*each) for each in wanted]
        doing = f"list {wanted[0][0] or 'the log'}" if wanted else "list the log"
        with self._failing(doing):
            if self._asynchronous and len(calls) > 1:
                from fsspec.asyn import _run_coros_in_chunks, sync

                coroutines = [
                    getattr(self.fs, f"_{name}")(base, **options) for name, base, options in calls
                ]
                found = sync(
                    self.fs.loop,
                    _run_coros_in_chunks,
                    coroutines,
                    batch_size=IN_FLIGHT,
                    return_exceptions=True,
                )
            else:
                found = [self._listed_one(*call) for call in calls]
            return [self._infos(result) for result in found]

    def _listing(self, folder: str, prefix: str, folders: bool) -> tuple[str, str, dict[str, Any]]:
        """The filesystem's method and arguments listing ``folder`` (on S3: the names
        starting with ``prefix`` alone, a prefix of the folder's)."""
        base = self._full(folder)
        if self._s3 and not folders:
            return "find", base, {"maxdepth": 1, "prefix": prefix, "detail": True}
        return "ls", base, {"detail": True}

    def _listed_one(self, name: str, base: str, options: dict[str, Any]) -> Any:
        try:
            return getattr(self.fs, name)(base, **options)
        except FileNotFoundError as error:
            return error

    def _infos(self, result: Any) -> list[dict[str, Any]]:
        if isinstance(result, FileNotFoundError):
            if bucket_missing(result):
                raise result
            return []
        if isinstance(result, BaseException):
            raise result
        return list(result.values() if isinstance(result, dict) else result)

    def _entries(self, folder: str, prefix: str, found: list[dict[str, Any]]) -> list[Entry]:
        entries = []
        for info in found:
            name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
            if info.get("type") == "directory" or name[:1] == "." or not name.startswith(prefix):
                continue
            key = f"{folder}/{name}" if folder else name
            entries.append(Entry(key, int(info.get("size") or 0), modified_time(info)))
            self._sizes[key] = entries[-1].size
        return sorted(entries, key=lambda e: e.key)

    def read(self, key: str) -> bytes:
        with self._failing(f"read {key}"):
            return bytes(self.fs.cat_file(self._full(key)))

    def delete(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        with self._failing(f"delete {len(keys)} file(s)"):
            try:  # one request a thousand keys; a key already gone is no error on S3
                self.fs.rm([self._full(k) for k in keys])
            except FileNotFoundError:  # a filesystem that minds: one at a time
                for key in keys:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(self._full(key))
        self.forget(keys)
        return len(keys)

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

    def footers(self, keys: Sequence[str]) -> None:
        """The tails of the files not read yet, fetched together (a file whose footer
        is longer than the tail costs one more request)."""
        missing = [k for k in dict.fromkeys(keys) if k not in self._footers]
        copied = [k for k in missing if (self.cache / k).is_file()]
        for key in copied:  # a copy in the cache: its footer costs no request
            with contextlib.suppress(OSError, pa.ArrowException):
                self._keep(key, pq.read_metadata(self.cache / key))
        missing = [k for k in missing if k not in self._footers]
        if not missing:
            return
        sizes = self._known_sizes(missing)
        starts = [max(0, sizes[k] - TAIL) for k in missing]
        with self._failing(f"read the footers of {len(missing)} file(s)"):
            tails = self._ranges(
                [self._full(k) for k in missing], starts, [sizes[k] for k in missing]
            )
        for key, tail in zip(missing, tails, strict=True):
            if isinstance(tail, FileNotFoundError):
                continue  # deleted since listed: a later read says so
            if isinstance(tail, BaseException):
                raise StoreError(self._explained(tail, f"read {key}"))
            with contextlib.suppress(ValueError, pa.ArrowException):  # not Parquet: skipped
                self._keep(key, self._parsed(key, bytes(tail), sizes[key]))

    def _read_footer(self, key: str) -> pq.FileMetaData:
        copy = self.cache / key
        if copy.is_file():
            with contextlib.suppress(OSError, pa.ArrowException):
                return pq.read_metadata(copy)
        size = self._known_sizes([key])[key]
        with self._failing(f"read {key}"):
            tail = self.fs.cat_file(self._full(key), start=max(0, size - TAIL))
        return self._parsed(key, bytes(tail), size)

    def _parsed(self, key: str, tail: bytes, size: int) -> pq.FileMetaData:
        length = struct.unpack("<i", tail[-8:-4])[0] + 8 if len(tail) >= 8 else size
        if length > len(tail) and len(tail) < size:  # a long footer: the whole of it
            with self._failing(f"read {key}"):
                tail = bytes(self.fs.cat_file(self._full(key), start=max(0, size - length)))
        return pq.read_metadata(pa.BufferReader(tail))

    def _known_sizes(self, keys: Sequence[str]) -> dict[str, int]:
        unknown = [k for k in keys if k not in self._sizes]
        if unknown:
            with self._failing(f"look up {len(unknown)} file(s)"):
                for key in unknown:
                    self._sizes[key] = int(self.fs.size(self._full(key)))
        return {k: self._sizes[k] for k in keys}

    def _ranges(self, paths: list[str], starts: list[int], ends: list[int]) -> list[Any]:
        """Byte ranges of many files in one batch (errors returned in place)."""
        return list(self.fs.cat_ranges(paths, starts, ends, on_error="return", **self._batch))

    def local_paths(self, paths: Sequence[str]) -> list[str]:
        keys = [self.key_of(path) for path in paths]
        local = [self.cache / key for key in keys]
        missing = {k: target for k, target in zip(keys, local, strict=True) if not target.is_file()}
        if missing:
            self._fetch(missing)
            evict(self.cache, "*.parquet", set(local), CACHE_BYTES)  # never this read's
        touch(local)
        return [str(target) for target in local]

    def _fetch(self, missing: dict[str, Path]) -> None:
        """Copy files into the cache together: each under a temporary name, then renamed,
        so that a reader (or another process) never sees half a copy."""
        temporaries = {}
        for key, target in missing.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporaries[key] = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        remote = [self._full(k) for k in missing]
        try:
            with self._failing(f"read {len(missing)} file(s)"):
                self.fs.get(remote, [str(temporaries[k]) for k in missing], **self._batch)
            for key, target in missing.items():
                os.replace(temporaries[key], target)
        finally:
            for temporary in temporaries.values():
                temporary.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (ProdmlError, FileNotFoundError):
            raise
        except self._failures as error:
            raise StoreError(self._explained(error, doing)) from None

    def _explained(self, error: BaseException, doing: str) -> str:
        return explain(error, doing, self.url, self.root.split("/", 1)[0], self.fs)
