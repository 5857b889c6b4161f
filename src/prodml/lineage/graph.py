"""Lineage trees: resolve what a user typed to a node, then walk edges."""

from __future__ import annotations

import contextlib
from datetime import datetime

from prodml.client import Client
from prodml.domain.ids import split_ref
from prodml.domain.lineage import LineageTree, Node, NodeKind
from prodml.errors import InvalidInputError, NotFoundError

MAX_DEPTH = 12
HINT = "Give a run id, NAME@VERSION of a dataset or model, or an artifact id."


def resolve(client: Client, ref: str) -> Node:
    """A run id (prefix), ``NAME@VERSION`` of a dataset or model, a dataset digest
    or an artifact id."""
    if "@" in ref:
        return _versioned(client, ref)
    candidates = [
        Node(NodeKind(kind), ident, ident[:12])
        for kind, ident in client.metadata.ids_with_prefix(ref, HINT)
    ]
    if not candidates:
        raise NotFoundError(f"Nothing with id {ref!r} in this store. {HINT}")
    if len(candidates) > 1:
        kinds = ", ".join(node.kind.value for node in candidates)
        raise InvalidInputError(f"Id {ref!r} matches a {kinds}; give more characters.")
    return label(client, candidates[0])


def _versioned(client: Client, ref: str) -> Node:
    """``NAME@VERSION`` of a dataset or a model; ``dataset:`` or ``model:`` in front
    says which when both kinds have that name."""
    kind, _, rest = ref.partition(":") if ref.startswith(("dataset:", "model:")) else ("", "", ref)
    name, version = split_ref(rest)
    found: list[Node] = []
    if kind in ("", "dataset"):
        with contextlib.suppress(NotFoundError):
            dataset = client.metadata.get_dataset_version(name, version)
            found.append(Node(NodeKind.DATASET, dataset.id, dataset.ref))
    if kind in ("", "model"):
        with contextlib.suppress(NotFoundError):
            model = client.metadata.get_model_version(name, version)
            found.append(Node(NodeKind.MODEL, model.id, model.ref))
    if not found:
        raise NotFoundError(f"No dataset or model version {rest!r} in this store. {HINT}")
    if len(found) > 1:
        raise InvalidInputError(
            f"{rest!r} is both a dataset and a model version; say which: "
            f"dataset:{rest} or model:{rest}."
        )
    return label(client, found[0])


def label(client: Client, node: Node) -> Node:
    """The node with a label a person recognises."""
    store = client.metadata
    text = node.id[:12]
    if node.kind is NodeKind.RUN:
        run = store.list_runs(ids=[node.id])
        text = (
            f"run {node.id[:12]} ({run[0].experiment}, {run[0].status})" if run else f"run {text}"
        )
    elif node.kind is NodeKind.DATASET:
        versions = store.dataset_versions_by_digest(node.id)
        names = ", ".join(version.ref for version in versions) or "unknown dataset"
        text = f"dataset {names} [{node.id[:12]}]"
    elif node.kind is NodeKind.MODEL:
        model = store.get_model_by_id(node.id)
        text = f"model {model.ref}"
    elif node.kind is NodeKind.EVALUATION:
        found = store.evaluations(evaluation_id=node.id)
        verdict = f", gate {found[0].verdict}" if found and found[0].verdict else ""
        subject = str(found[0].result["model"]) if found else "?"
        text = f"evaluation {node.id[:12]} of {subject}{verdict}"
    elif node.kind is NodeKind.ARTIFACT:
        artifact = store.get_artifact(node.id)
        text = f"artifact {artifact.name} ({artifact.size:,} bytes) [{artifact.digest[:12]}]"
    return Node(node.kind, node.id, text)


def tree(
    client: Client, ref: str | Node, upstream: bool, as_of: datetime | None = None
) -> LineageTree:
    """The graph around ``ref`` (a node already resolved, or an id or ``NAME@VERSION``)."""
    root = ref if isinstance(ref, Node) else resolve(client, ref)
    return _walk(client, root, None, upstream, as_of, set(), 0)


def _walk(
    client: Client,
    node: Node,
    relation: str | None,
    upstream: bool,
    as_of: datetime | None,
    seen: set[tuple[str, str]],
    depth: int,
) -> LineageTree:
    seen.add((node.kind.value, node.id))
    children = []
    if depth < MAX_DEPTH:
        for (kind, ident), edge in client.metadata.neighbours(
            (node.kind.value, node.id), upstream, as_of
        ):
            if (kind, ident) in seen:
                continue
            child = label(client, Node(NodeKind(kind), ident, ident[:12]))
            children.append(_walk(client, child, edge, upstream, as_of, seen, depth + 1))
    return LineageTree(node, relation, tuple(children))
