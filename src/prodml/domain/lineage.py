"""Lineage edges and events: the graph and the append-only log of state changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class NodeKind(StrEnum):
    DATASET = "dataset"
    RUN = "run"
    ARTIFACT = "artifact"
    MODEL = "model"
    EVALUATION = "evaluation"


@dataclass(frozen=True)
class Node:
    kind: NodeKind
    id: str
    label: str


@dataclass(frozen=True)
class Edge:
    """``source`` produced or fed ``target``; ``relation`` says how."""

    source: Node
    target: Node
    relation: str
    created_at: datetime


@dataclass(frozen=True)
class LineageTree:
    """A node and, recursively, its neighbours in one direction."""

    node: Node
    relation: str | None
    children: tuple[LineageTree, ...] = ()

    def walk(self) -> list[Node]:
        nodes = [self.node]
        for child in self.children:
            nodes.extend(child.walk())
        return nodes

    def edges(self) -> set[tuple[str, str | None, str]]:
        """``(node id, relation, neighbour id)`` for every edge in the tree."""
        found = set()
        for child in self.children:
            found.add((self.node.id, child.relation, child.node.id))
            found |= child.edges()
        return found


@dataclass(frozen=True, kw_only=True)
class Event:
    id: int
    at: datetime
    actor: str
    action: str
    subject_kind: str
    subject_id: str
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
