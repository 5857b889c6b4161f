"""Content-addressed blobs on any fsspec filesystem (``s3://``, ``memory://``, ...).

Credentials come from the filesystem's own environment (for ``s3://``: the AWS
variables, profile or instance role, and ``AWS_ENDPOINT_URL`` for another S3 API),
never from the URL. A failed request becomes a :class:`StoreError` that names the URL,
what failed and what to check, without the secret or the library's traceback."""

from __future__ import annotations

import contextlib
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from prodml.errors import DataReadError, ProdmlError, StoreError
from prodml.settings import refuse_credentials
from prodml.stores.blobs import (
    SMALL,
    BlobInfo,
    ensure_unchanged,
    hash_bytes,
    hash_file,
    integrity_error,
    missing_error,
    verified,
)
from prodml.stores.local_cache import CACHE_BYTES, evict, touch
from prodml.stores.remote_failures import bucket_missing, explain

if TYPE_CHECKING:
    import asyncio

BATCH_BYTES = 64 << 20  # small files read into memory per batch of put_files
# Requests of a batch under way at once. The connection pool (10 for s3fs) sets how many
# are sent together; more only wait for a connection, and one that waits past the
# connect timeout (60 s) fails: fsspec's default of 1,280 did on a slow server.
IN_FLIGHT = 64
# Object stores: no folders to make, and a bucket that may not exist.
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss"}


class FsspecArtifactStore:
    """Same layout and guarantees as the local store, through fsspec.

    Object stores make a single ``put`` atomic, so a blob appears whole or not at
    all; reads are verified, and a verified local copy is cached for tools that
    need a file path (DuckDB, model loading). Every put writes the blob: checking a
    stored large blob would cost a full download, while writing it again costs an
    upload, repairs a damaged blob and renews its time (so gc's grace period covers
    its new use)."""

    def __init__(self, url: str, cache: Path, part_size: int | None = None) -> None:
        import fsspec
        from fsspec.asyn import AsyncFileSystem

        refuse_credentials("artifact_url", url)
        self.url = url
        self.fs: Any
        # A store of its own: credentials are read from the environment when it is made,
        # and listings are never cached (another process may write or delete a blob).
        self.fs, self.root = fsspec.core.url_to_fs(
            url, skip_instance_cache=True, use_listings_cache=False
        )
        self._cache = cache
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self._object_store = bool(OBJECT_STORES.intersection(protocols))
        self._s3 = "s3" in protocols
        self._put_options: dict[str, Any] = (
            {"chunksize": part_size} if part_size and self._s3 else {}
        )
        self._failures = failure_types(self._s3)
        asynchronous = isinstance(self.fs, AsyncFileSystem)
        self._batch: dict[str, Any] = {"batch_size": IN_FLIGHT} if asynchronous else {}
        # A large download: parts of ``part_size`` or the filesystem's block size, as many
        # at once as it sends a large file's parts (s3fs: 50 MiB, 10).
        self._part = part_size or int(getattr(self.fs, "default_block_size", None) or 50 << 20)
        self._width = int(getattr(self.fs, "max_concurrency", None) or 10)

    def _path(self, digest: str) -> str:
        return f"{self.root.rstrip('/')}/{digest[:2]}/{digest[2:]}"

    # Writing

    def put_file(
        self, path: Path, digest: str | None = None, owned: bool = False
    ) -> tuple[str, int]:
        """Upload a file's bytes as a blob (``owned`` or not: uploading copies anyway)."""
        before = path.stat()
        if before.st_size <= SMALL and digest is None:
            return self.put_bytes(path.read_bytes())
        digest = digest or hash_file(path)
        target = self._path(digest)
        with self._failing(f"write blob {digest}"):
            self._written(target, lambda: self.fs.put_file(str(path), target, **self._put_options))
            try:
                ensure_unchanged(path, before)
            except DataReadError:
                self.fs.rm_file(target)  # its bytes may not match the digest
                raise
        return digest, before.st_size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        digest = hash_bytes(data)
        target = self._path(digest)
        with self._failing(f"write blob {digest}"):
            self._written(target, lambda: self.fs.pipe_file(target, data, **self._put_options))
        return digest, len(data)

    def put_files(self, paths: Sequence[Path]) -> list[tuple[str, int]]:
        """``put_file`` for many files at once: small files are read, hashed and written
        in concurrent batches (one request each), large ones one after the other, each
        in concurrent parts. Digests and sizes in the order of ``paths``."""
        results: list[tuple[str, int]] = []
        pending: dict[str, bytes] = {}
        pending_bytes = 0
        for path in paths:
            if path.stat().st_size > SMALL:
                self._pipe(pending)
                pending, pending_bytes = {}, 0
                results.append(self.put_file(path))
                continue
            data = path.read_bytes()
            digest = hash_bytes(data)
            pending[self._path(digest)] = data
            pending_bytes += len(data)
            results.append((digest, len(data)))
            if pending_bytes >= BATCH_BYTES:
                self._pipe(pending)
                pending, pending_bytes = {}, 0
        self._pipe(pending)
        return results

    def _pipe(self, blobs: dict[str, bytes]) -> None:
        if not blobs:
            return
        with self._failing(f"write {len(blobs)} blob(s)"):
            if self._object_store:
                self.fs.pipe(blobs, **self._batch)
                return
            for target, data in blobs.items():
                self._written(target, lambda t=target, d=data: self.fs.pipe_file(t, d))

    def _written(self, target: str, write: Any) -> None:
        """Write; a filesystem with folders gets the blob's folder on first need (an
        object store has none, and a missing bucket must not be made by a write)."""
        try:
            write()
        except FileNotFoundError:
            if self._object_store:
                raise
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            write()

    # Reading

    def exists(self, digest: str) -> bool:
        with self._failing(f"look up blob {digest}"):
            try:
                self.fs.info(self._path(digest))
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                return False
        return True

    def read_bytes(self, digest: str) -> bytes:
        with self._failing(f"read blob {digest}"):
            try:
                data = bytes(self.fs.cat_file(self._path(digest)))
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                raise missing_error(digest) from None
        return verified(digest, data)

    def local_path(self, digest: str) -> Path:
        return self.local_paths([digest])[0]

    def local_paths(self, digests: Sequence[str]) -> list[Path]:
        """A verified local copy of each blob, in the cache folder: copies already there
        are hashed again, the others downloaded in concurrent batches (a large blob in
        concurrent parts) and hashed before they get their name. The folder keeps at
        most :data:`CACHE_BYTES` of copies, the least recently read leaving first."""
        wanted = [d for d in dict.fromkeys(digests) if not self._cached(d)]
        if wanted:
            self._cache.mkdir(parents=True, exist_ok=True)
            temporaries = [self._cache / f".{uuid.uuid4().hex}" for _ in wanted]
            try:
                hashed = self._download(wanted, temporaries)
                for digest, temporary, actual in zip(wanted, temporaries, hashed, strict=True):
                    if actual != digest:
                        raise integrity_error(digest, actual)
                    temporary.replace(self._cache / digest)
            finally:
                for temporary in temporaries:
                    temporary.unlink(missing_ok=True)
            evict(self._cache, "[0-9a-f]*", {self._cache / d for d in digests}, CACHE_BYTES)
        local = [self._cache / digest for digest in digests]
        touch(local)
        return local

    def _cached(self, digest: str) -> bool:
        cached = self._cache / digest
        return cached.is_file() and hash_file(cached) == digest

    def _download(self, digests: list[str], temporaries: list[Path]) -> list[str]:
        """Download each blob to its temporary file; the BLAKE3 of each file's bytes."""
        remote = [self._path(digest) for digest in digests]
        local = [str(temporary) for temporary in temporaries]
        with self._failing(f"read blob {digests[0]}" if len(digests) == 1 else "read blobs"):
            try:
                if len(remote) > 1:
                    self.fs.get(remote, local, **self._batch)
                elif self._batch and (size := int(self.fs.info(remote[0])["size"])) > self._part:
                    from fsspec.asyn import sync

                    return [sync(self.fs.loop, self._fetch, remote[0], temporaries[0], size)]
                else:
                    self.fs.get_file(remote[0], local[0])
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                for digest, path in zip(digests, remote, strict=True):
                    if not self.fs.exists(path):
                        raise missing_error(digest) from None
                raise
        return [hash_file(temporary) for temporary in temporaries]

    async def _fetch(self, remote: str, local: Path, size: int) -> str:
        """Download a large blob in parts, several at a time, each written and hashed in
        order as it arrives: its BLAKE3 without a second pass over the file."""
        import asyncio

        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        pending: deque[asyncio.Future[bytes]] = deque()
        with local.open("wb") as out:

            def take(data: bytes) -> None:
                hasher.update(data)
                out.write(data)

            try:
                for start in range(0, size, self._part):
                    end = min(start + self._part, size)
                    part = self.fs._cat_file(remote, start=start, end=end)
                    pending.append(asyncio.ensure_future(part))
                    if len(pending) >= self._width:
                        await asyncio.to_thread(take, await pending.popleft())
                while pending:
                    await asyncio.to_thread(take, await pending.popleft())
            finally:
                for waiting in pending:
                    waiting.cancel()
        return str(hasher.hexdigest())

    def list_blobs(self) -> Iterator[BlobInfo]:
        with self._failing("list blobs"):
            try:
                found = self.fs.find(self.root, detail=True)
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                return
        for info in found.values():
            parts = info["name"].rstrip("/").rsplit("/", 2)
            if len(parts) == 3 and len(parts[1]) == 2:
                yield BlobInfo(parts[1] + parts[2], int(info["size"]), modified_time(info))

    def delete(self, digest: str, older_than: float | None = None) -> bool:
        """Delete a blob; with ``older_than``, only if nothing wrote it since that time.
        An object store has no atomic move, so the check and the delete are two steps
        (a put in between renews the time after the check: a window of one request)."""
        path = self._path(digest)
        with self._failing(f"delete blob {digest}"):
            try:
                modified = modified_time(self.fs.info(path))
            except FileNotFoundError as error:
                if bucket_missing(error):
                    raise
                return False
            if older_than is not None and modified > older_than:
                return False
            self.fs.rm_file(path)
        return True

    # Failures

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """Turn a failed request into a StoreError naming the URL, what failed and the
        next step; prodml's own errors pass unchanged."""
        try:
            yield
        except ProdmlError:
            raise
        except self._failures as error:
            raise StoreError(self._explain(error, doing)) from None

    def _explain(self, error: BaseException, doing: str) -> str:
        return explain(error, doing, self.url, self.root.split("/", 1)[0], self.fs)


def failure_types(s3: bool) -> tuple[type[BaseException], ...]:
    """What a failed request raises: OSError (fsspec's own and s3fs's translations),
    and for S3 botocore's and aiohttp's errors that s3fs passes through."""
    found: list[type[BaseException]] = [OSError]
    if s3:
        with contextlib.suppress(ImportError):
            from botocore.exceptions import BotoCoreError, ClientError

            found += [BotoCoreError, ClientError]
        with contextlib.suppress(ImportError):
            from aiohttp import ClientError as HttpError

            found.append(HttpError)
    return tuple(found)


def modified_time(info: dict[str, Any]) -> float:
    """When an object was last written, from what its filesystem reports."""
    modified: Any = info.get("mtime") or info.get("LastModified") or info.get("created")
    stamp = modified.timestamp() if hasattr(modified, "timestamp") else modified
    return float(stamp or 0.0)
