"""The client: settings plus the two stores, opened on first use.

``prodml.start_run`` and the other module-level functions use the default
client, built from the settings table (``PRODML_HOME`` and friends); a program
that works with two stores makes a :class:`Client` for each.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml import settings as settings_table
from prodml.errors import IntegrityError, NotFoundError
from prodml.settings import Settings
from prodml.stores.blobs import ArtifactStore
from prodml.stores.metadata import open_artifacts, open_metadata
from prodml.stores.protocol import MetadataStore

if TYPE_CHECKING:
    from prodml.stores.log_files import LogFiles


class Client:
    def __init__(self, **overrides: Any) -> None:
        self.settings: Settings = settings_table.load(overrides)
        self._metadata: MetadataStore | None = None
        self._artifacts: ArtifactStore | None = None
        self._log_files: LogFiles | None = None
        self._writer: Any = None
        self._lock = threading.Lock()
        _clients.add(self)

    @property
    def home(self) -> Path:
        return Path(self.settings.home)

    @property
    def metadata(self) -> MetadataStore:
        if self._metadata is None:
            with self._lock:
                if self._metadata is None:
                    self._metadata = open_metadata(
                        self.settings.metadata_url, self.settings.user, self.settings.busy_timeout
                    )
        return self._metadata

    @property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            self._artifacts = open_artifacts(self.settings.artifact_url, self.home)
        return self._artifacts

    @property
    def log_files(self) -> LogFiles:
        """The prediction log's files (``log_url``: a folder or an object store)."""
        if self._log_files is None:
            from prodml.stores.log_places import open_log_files

            self._log_files = open_log_files(self.settings.log_url, self.home / "cache" / "log")
        return self._log_files

    @property
    def writer(self) -> Any:
        """The background writer of buffered params and metrics (started on first use)."""
        if self._writer is None:
            from prodml.stores.writer import BatchWriter

            with self._lock:
                if self._writer is None:
                    self._writer = BatchWriter(self.metadata, self.settings.flush_interval)
        return self._writer

    def read_blob(self, digest: str) -> bytes:
        """The verified bytes of a blob; a corrupt or missing blob names who uses it."""
        try:
            return self.artifacts.read_bytes(digest)
        except (IntegrityError, NotFoundError) as error:
            raise self._with_references(error, digest) from None

    def blob_path(self, digest: str) -> Path:
        try:
            return self.artifacts.local_path(digest)
        except (IntegrityError, NotFoundError) as error:
            raise self._with_references(error, digest) from None

    def _with_references(self, error: Exception, digest: str) -> Exception:
        users = self.metadata.references(digest) or ["no stored object"]
        return type(error)(f"{error} Referenced by: {'; '.join(users)}.")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._metadata is not None:
            self._metadata.close()
            self._metadata = None


def _after_fork_in_child() -> None:
    """A forked child gets a writer and connections of its own on first use."""
    for client in list(_clients):
        client._writer = None
        if client._metadata is not None:
            client._metadata.after_fork()


_clients: weakref.WeakSet[Client] = weakref.WeakSet()
os.register_at_fork(after_in_child=_after_fork_in_child)
_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Client()
    return _default


def configure(**overrides: Any) -> Client:
    """Replace the default client, e.g. ``prodml.configure(home="/data/.prodml")``."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = Client(**overrides)
    return _default
