"""The store itself: where it is, opening it, and collecting blobs nothing refers to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prodml.client import Client, default_client

if TYPE_CHECKING:
    from prodml.stores.gc import GcReport as GcReport


@dataclass(frozen=True)
class StoreInfo:
    """Where the store's two halves live: the database of records and the blob store."""

    database: str
    blobs: str


def store_info(client: Client | None = None) -> StoreInfo:
    """The metadata database (its URL, password hidden) and the blob store's URL."""
    chosen = client or default_client()
    return StoreInfo(database=chosen.metadata.describe(), blobs=chosen.artifacts.url)


def init_store(client: Client | None = None) -> StoreInfo:
    """Create the store (or check an existing one, migrating it) and record that it was
    opened; where it is."""
    chosen = client or default_client()
    chosen.metadata.record_event("store.opened", ("store", "metadata"), "prodml init")
    return store_info(chosen)


def collect_garbage(
    delete: bool = False, grace: float | None = None, client: Client | None = None
) -> GcReport:
    """Blobs no stored object refers to and older than ``grace`` seconds (default an
    hour: a writer may not have linked a new blob yet): listed, or deleted with ``delete``."""
    from prodml.stores.gc import GRACE_SECONDS, collect

    chosen = client or default_client()
    kept = GRACE_SECONDS if grace is None else grace
    return collect(chosen.metadata, chosen.artifacts, delete=delete, grace=kept)
