"""Lineage and the event log: what an object came from and what came of it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prodml.client import Client, default_client
from prodml.domain.lineage import Event, LineageTree
from prodml.lineage import graph

if TYPE_CHECKING:  # table libraries load on first use, not with the SDK
    pass


def upstream(ref: str, as_of: datetime | None = None, client: Client | None = None) -> LineageTree:
    """What produced ``ref``, recursively: e.g. model <- run <- dataset versions."""
    return graph.tree(client or default_client(), ref, True, as_of)


def downstream(
    ref: str, as_of: datetime | None = None, client: Client | None = None
) -> LineageTree:
    """What ``ref`` fed, recursively: e.g. dataset -> runs -> models and artifacts."""
    return graph.tree(client or default_client(), ref, False, as_of)


def events(
    since: datetime | None = None, until: datetime | None = None, client: Client | None = None
) -> list[Event]:
    return (client or default_client()).metadata.list_events(since=since, until=until)
