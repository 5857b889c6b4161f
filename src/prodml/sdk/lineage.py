"""Lineage and the event log: what an object came from and what came of it."""

from __future__ import annotations

from datetime import datetime

from prodml import times
from prodml.client import Client, default_client
from prodml.domain.lineage import Event, LineageTree, Node, NodeKind
from prodml.errors import NotFoundError
from prodml.sdk.refs import resolve


def upstream(
    ref: str, as_of: datetime | str | None = None, client: Client | None = None
) -> LineageTree:
    """What produced ``ref``, recursively: e.g. model <- run <- dataset versions.
    ``ref`` is anything :func:`prodml.resolve` understands, e.g. ``churn@champion``."""
    return _tree(ref, True, as_of, client)


def downstream(
    ref: str, as_of: datetime | str | None = None, client: Client | None = None
) -> LineageTree:
    """What ``ref`` fed, recursively: e.g. dataset -> runs -> models and artifacts."""
    return _tree(ref, False, as_of, client)


def _tree(ref: str, up: bool, as_of: datetime | str | None, client: Client | None) -> LineageTree:
    from prodml.lineage import graph

    chosen = client or default_client()
    moment = times.moment(as_of, "--as-of")
    return graph.tree(chosen, resolve(ref, moment, chosen), up, moment)


def events(
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    action: str | None = None,
    client: Client | None = None,
    *,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[Event]:
    """The event log, oldest first: every state change with who, when and why. ``since``
    and ``until`` take a time or what people type (``1h``, ``7d``, an ISO time);
    ``action`` keeps those whose action starts so (e.g. ``rollout``); ``newest_first``
    with ``limit`` gives the latest few."""
    return (client or default_client()).metadata.list_events(
        since=times.moment(since, "--since"),
        until=times.moment(until, "--until"),
        actions=() if action is None else (action,),
        limit=limit,
        newest_first=newest_first,
    )


def node_ref(node: Node, client: Client | None = None) -> str:
    """What people type for a lineage node: ``NAME@VERSION`` of a dataset or model
    version (the first name logged with a dataset's content), the id otherwise."""
    store = (client or default_client()).metadata
    if node.kind is NodeKind.DATASET:
        versions = store.dataset_versions_by_digest(node.id)
        return versions[0].ref if versions else node.id
    if node.kind is NodeKind.MODEL:
        try:
            return store.get_model_by_id(node.id).ref
        except NotFoundError:
            return node.id
    return node.id
