"""Lineage: what any object came from and what came of it, as of a time, drawn in
columns by distance (inputs to the left, what it fed to the right); and ``/open``,
which finds an object's page from its kind and id."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from prodml import times
from prodml.domain.lineage import LineageTree, Node, NodeKind
from prodml.errors import InvalidInputError, NotFoundError
from prodml.sdk import lineage
from prodml.ui import links, pages
from prodml.ui.pages import client_of

NAV = ("Lineage", "/lineage", 80)
MAX_REF = 300
MAX_TIME = 64
MAX_NODES = 400  # per direction; a dataset read by thousands of runs shows the first
COLUMN_WIDTH, BOX_WIDTH, ROW_HEIGHT, BOX_HEIGHT = 300, 250, 44, 32
LABEL_CHARS = 38


@dataclass(frozen=True, kw_only=True)
class Placed:
    node: Node
    column: int  # negative: upstream, 0: the object, positive: downstream
    row: int
    page: str | None
    relation: str | None

    @property
    def short(self) -> str:
        text = self.node.label
        return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


@dataclass
class Layout:
    """Nodes placed in columns by distance from the object and the lines between
    them; ``x`` and ``y`` give a node's top left corner in pixels."""

    nodes: list[Placed] = field(default_factory=list)
    edges: list[tuple[Placed, Placed, str]] = field(default_factory=list)
    rows: dict[int, int] = field(default_factory=dict)  # nodes so far in each column
    truncated: bool = False

    @property
    def left(self) -> int:
        return min(self.rows)

    @property
    def width(self) -> int:
        return (max(self.rows) - self.left) * COLUMN_WIDTH + BOX_WIDTH + 20

    @property
    def height(self) -> int:
        return max(self.rows.values()) * ROW_HEIGHT + 20

    def x(self, placed: Placed) -> int:
        return (placed.column - self.left) * COLUMN_WIDTH + 10

    def y(self, placed: Placed) -> int:
        return placed.row * ROW_HEIGHT + 10


def _text(value: str | None, limit: int, what: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInputError(f"The {what} is longer than {limit} characters.")
    return text or None


async def lineage_page(request: Request) -> Response:
    ref = _text(request.query_params.get("ref"), MAX_REF, "reference")
    as_of = _text(request.query_params.get("as_of"), MAX_TIME, "as-of time")
    if ref is None:
        return pages.render(request, "lineage/graph.html", title="Lineage", ref="", as_of=as_of)
    client = client_of(request)
    moment = times.moment(as_of, "As of")
    up = lineage.upstream(ref, as_of=moment, client=client)
    down = lineage.downstream(ref, as_of=moment, client=client)
    layout = _layout(request, up, down)
    return pages.render(
        request,
        "lineage/graph.html",
        title=f"Lineage of {up.node.label}",
        ref=ref,
        as_of=as_of or "",
        root=up.node,
        layout=layout,
        upstream=[p for p in layout.nodes if p.column < 0],
        downstream=[p for p in layout.nodes if p.column > 0],
        lineage_of=links.lineage_of,
        box=(BOX_WIDTH, BOX_HEIGHT),
    )


def _layout(request: Request, up: LineageTree, down: LineageTree) -> Layout:
    layout = Layout()
    root = _place(request, layout, up.node, 0, None)
    for tree, step in ((up, -1), (down, 1)):
        _place_children(request, layout, tree, root, step, [0])
    return layout


def _place_children(
    request: Request,
    layout: Layout,
    tree: LineageTree,
    parent: Placed,
    step: int,
    count: list[int],  # nodes placed in this direction so far
) -> None:
    for child in tree.children:
        if count[0] >= MAX_NODES:
            layout.truncated = True
            return
        count[0] += 1
        placed = _place(request, layout, child.node, parent.column + step, child.relation)
        source, target = (placed, parent) if step < 0 else (parent, placed)
        layout.edges.append((source, target, child.relation or ""))
        _place_children(request, layout, child, placed, step, count)


def _place(
    request: Request, layout: Layout, node: Node, column: int, relation: str | None
) -> Placed:
    row = layout.rows.get(column, 0)
    layout.rows[column] = row + 1
    placed = Placed(node=node, column=column, row=row, page=_page(request, node), relation=relation)
    layout.nodes.append(placed)
    return placed


def _page(request: Request, node: Node) -> str | None:
    if node.kind in (NodeKind.DATASET, NodeKind.MODEL):
        ref = lineage.node_ref(node, client=client_of(request))
        return links.page_of(node.kind.value, ref) if "@" in ref else None
    return links.page_of(node.kind.value, node.id)


async def open_object(request: Request) -> Response:
    """``/open/{kind}/{id}``: the page of a dataset or model version, run, rollout,
    alert or incident, found from its id."""
    kind = request.path_params["kind"]
    ident = _text(request.path_params["ident"], 128, "id") or ""
    if kind in (NodeKind.DATASET.value, NodeKind.MODEL.value):
        # an id becomes NAME@VERSION; anything else is taken for a name (its own page)
        target = links.page_of(
            kind, lineage.node_ref(Node(NodeKind(kind), ident, ident), client=client_of(request))
        )
    else:
        target = links.page_of(kind, ident)
    if target is None:
        raise NotFoundError(f"Objects of kind {kind!r} have no page; see /lineage?ref={ident}")
    return RedirectResponse(target, status_code=307)


ROUTES = [
    Route("/lineage", lineage_page, methods=["GET"]),
    Route("/open/{kind}/{ident}", open_object, methods=["GET"]),
]
