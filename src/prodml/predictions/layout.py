"""The columns of the prediction log, typed before any row arrives.

A served row's segment holds the request's own columns, the answer (``output``)
and the inputs. The inputs' types come from the model version's signature, never
from the values a request sent, so one request cannot change a column's type for
the others: a signature's columns make ``inputs`` a struct of those fields, a tensor
model's rows make ``inputs`` a struct of one list of numbers (``values``), and a
model without a signature keeps each row as JSON text in ``inputs_json``. A shadow's
answer is written with its row when it comes in time, else later in a segment of its
own, joined back by ``row_id``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")

# Columns of a served row's segment (``output`` is typed from the answers: numbers
# when every answer is one, else text).
SERVED: tuple[tuple[str, pa.DataType], ...] = (
    ("row_id", pa.string()),
    ("request_id", pa.string()),
    ("ts", TIME),
    ("model", pa.string()),
    ("version", pa.int64()),
    ("assigned", pa.int64()),
    ("variant", pa.string()),
    ("rollout_id", pa.string()),
    ("step", pa.int64()),
    ("routing_key", pa.string()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("fallback", pa.string()),
    ("latency_ms", pa.float64()),
)
# The shadow's columns of a served segment: filled when the shadow answered before
# the row was handed to the writer, else empty (the answer follows in a shadow
# segment).
SHADOW_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("shadow_version", pa.int64()),
    ("shadow_output", pa.float64()),
    ("shadow_error", pa.string()),
)
# Columns of a shadow segment (``shadow_output`` is typed like ``output``).
SHADOWED: tuple[tuple[str, pa.DataType], ...] = (
    ("row_id", pa.string()),
    ("ts", TIME),
    ("model", pa.string()),
    ("shadow_version", pa.int64()),
    ("shadow_error", pa.string()),
)
SHADOW_KIND = "shadow-"  # the file name prefix of shadow segments
# The column of a compacted file of predictions naming each row's writer (``<host>.<pid>``,
# as a segment's name does); the ``predictions`` view shows it only as ``writer``, beside
# ``filename``.
WRITER = "_writer"


Storage = Literal["number", "integer", "flag", "text", "time", "json"]


@dataclass(frozen=True)
class InputLayout:
    """How one model version's inputs are stored: ``fields`` name each stored field
    and how its values are kept (``kind`` columns), or one list of numbers per row
    (``tensor``), or the row's JSON text (``json``)."""

    key: str
    kind: Literal["columns", "tensor", "json"]
    fields: tuple[tuple[str, Storage], ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.fields]


ARROW: dict[Storage, pa.DataType] = {
    "number": pa.float64(),
    "integer": pa.int64(),
    "flag": pa.bool_(),
    "text": pa.string(),
    "time": pa.string(),
    "json": pa.string(),
}


def input_layout(key: str, signature: Mapping[str, Any] | None) -> InputLayout:
    """The layout for a signature as a model version records it (``kind`` tensor or
    columns, each column with a ``name`` and an Arrow ``type`` name)."""
    signature = signature or {}
    if signature.get("kind") == "tensor":
        return InputLayout(key, "tensor")
    columns: Sequence[Mapping[str, Any]] = signature.get("columns") or []
    if signature.get("kind") != "columns" or not columns:
        return InputLayout(key, "json")
    return InputLayout(key, "columns", tuple((c["name"], storage(str(c["type"]))) for c in columns))


def storage(kind: str) -> Storage:
    """How values of a signature's Arrow type name are stored: integers as int64,
    booleans as bool, other numbers as float64, text as text, times as the text the
    request gave (an ISO string, or a number's decimal text) and anything else
    (lists, structs) as JSON text."""
    if kind.startswith(("int", "uint")):
        return "integer"
    if kind.startswith("bool"):
        return "flag"
    if kind.startswith(("float", "double", "halffloat", "decimal")):
        return "number"
    if kind.startswith(("string", "large_string", "dictionary<values=string")):
        return "text"
    if kind.startswith(("timestamp", "date")):
        return "time"
    return "json"


# A model's folder in the log (``<folder>/<YYYY-MM-DD>/``) is one level whatever the
# model's name: its '/' (team/churn) is written as '~', which no name holds, so that a
# listing of the log's top level finds every model and no part of a name is ever taken
# for a day (a model x/2020-01-01 is not model x's day 2020-01-01).
NAME_SLASH = "~"


def folder_of(model: str) -> str:
    """The folder of ``model``'s segments (and of its quarantined rows)."""
    return model.replace("/", NAME_SLASH)
