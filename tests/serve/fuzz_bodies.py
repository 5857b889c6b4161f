"""Hypothesis strategies for the gateway's request bodies, and what the gateway's
contract says of each value.

``json_values`` is any JSON a client can send (huge integers, deep nesting, long
texts, hostile keys) and ``field_values`` any value of one field; ``predict_bodies``
and ``infer_bodies`` are well-formed requests for a signature; ``mutated`` breaks
one spot of a well-formed body; ``verdict`` says whether a value must be taken
(True), refused (False) or may be either (None) for a column type."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from hypothesis import strategies as st

MAX_ROWS = 10_000
INT64 = 2**63 - 1  # every integer the gateway takes is within ±INT64
EXACT = 2**53  # integer literals for a number column stay within ±EXACT
MAX_TEXT = 65_536  # characters of a text the gateway documents it takes
RESERVED = {"records", "instances", "columns", "inputs"}  # keys that name a body form
_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
INTEGERS = {
    **{k: (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for k, b in _BITS.items()},
    **{f"u{k}": (0, min(2**b - 1, INT64)) for k, b in _BITS.items()},
}
INTEGERS["int64"] = (-INT64, INT64)  # -2^63 itself is left open (see verdict)

HUGE = st.sampled_from(
    [2**64 - 1, 2**64, 2**63, INT64, -(2**63), -(2**63) - 1, EXACT + 1, -EXACT - 1, 10**30]
)
HOSTILE_KEYS = st.sampled_from(
    [
        "",
        " ",
        "1st",
        "a" * 129,
        "__proto__",
        "a\u0000b",
        "é",
        "a\nb",
        "../x",
        "$where",
        "records",
        "columns",
        "instances",
        "inputs",
        "id",
        "why",
        "small",
        "flag",
        "seen",
    ]
)
KEYS = st.text(max_size=12) | HOSTILE_KEYS
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["x" * 70_000, "2024-01-01T00:00:00Z", "NaN", "1e400", "true"])
)
json_values = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
# a value in a field: mostly scalars of every kind, sometimes nested
field_values = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(KEYS, SCALARS, max_size=2)
RAW_BODIES = st.sampled_from(
    [
        b"",
        b" ",
        b"1e400",
        b"[-1e400]",
        b"NaN",
        b"Infinity",
        b"[" * 100_000,
        b'{"a":' * 3_000,
        b"\xff\xfe\x00",
        b"\xef\xbb\xbf{}",
        b"null",
        b"true",
        b"0",
        b'"text"',
        b'{"a":1,"a":"b"}',
        b'{"records": [' + b"{}," * 20_000 + b"{}]",
    ]
) | st.binary(max_size=64)
EMPTY_BODIES: list[Any] = [
    {},
    [],
    [{}],
    [[]],
    {"records": [{}]},
    {"records": [[]]},
    {"columns": {}},
    {"columns": {"a": []}},
    {"instances": []},
    {"inputs": []},
    {"inputs": [{}]},
    None,
    "",
    0,
]
# values at the edges of the column types
EDGES: list[Any] = [
    *(0, -1, 127, 128, -128, -129, 255, 256, 2**31, 2**32, EXACT, EXACT + 1, -EXACT - 1),
    *(INT64, 2**63, -(2**63) - 1, 2**64 - 1, 2**64, 10**30, 1.5, -0.0, 1e308, True, False),
    *("1", "", "x" * (MAX_TEXT + 1), None, [], {}, [1], {"a": 1}),
]
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_IDS = st.from_regex(rf"\A{REQUEST_ID.pattern}\Z")
FINITE = st.floats(allow_nan=False, allow_infinity=False)
NUMBERS = FINITE | st.integers(-EXACT, EXACT)


def values_of(kind: str, nullable: bool) -> st.SearchStrategy[Any]:
    """Values a column of signature type ``kind`` takes by the contract."""
    if kind in INTEGERS:
        base: st.SearchStrategy[Any] = st.integers(*INTEGERS[kind])
    elif kind in ("float", "double", "halffloat") or kind.startswith("decimal"):
        base = NUMBERS
    elif kind == "bool":
        base = st.booleans()
    elif kind.startswith(("timestamp", "date")):
        base = st.text(max_size=30) | NUMBERS
    else:
        base = st.text(max_size=40)
    return base | st.none() if nullable else base


def plain_value(kind: str) -> Any:
    """A value every column of type ``kind`` takes."""
    if kind in INTEGERS:
        return 1
    if kind == "bool":
        return True
    if kind.startswith(("timestamp", "date")):
        return "2024-01-01T00:00:00Z"
    return "a" if kind.startswith(("string", "large_string")) else 0.5


def verdict(value: Any, kind: str, nullable: bool) -> bool | None:
    """Must a column of type ``kind`` take ``value`` (as a client wrote it)?"""
    if value is None:
        return nullable
    if isinstance(value, list | dict):
        return False
    if kind in INTEGERS:
        if isinstance(value, bool | str):
            return False
        if isinstance(value, float) or value == -(2**63):
            return None  # an integral float, or the one int64 the contract leaves open
        low, high = INTEGERS[kind]
        return low <= value <= high
    if kind in ("float", "double", "halffloat") or kind.startswith("decimal"):
        return _number(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind.startswith(("timestamp", "date")):
        if isinstance(value, str):
            return True if len(value) <= MAX_TEXT else None
        return None if isinstance(value, int) and abs(value) > EXACT else _number(value)
    if not isinstance(value, str):
        return False
    return True if len(value) <= MAX_TEXT else None  # a text column


def _number(value: Any) -> bool | None:
    if isinstance(value, bool | str):
        return False
    if isinstance(value, int):
        return None if abs(value) == EXACT else abs(value) < EXACT
    return math.isfinite(value)


@st.composite
def signed_rows(draw: st.DrawFn, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    record = st.fixed_dictionaries(
        {c["name"]: values_of(c["type"], c.get("nullable") is not False) for c in columns}
    )
    return draw(st.lists(record, min_size=1, max_size=5))


@st.composite
def free_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows for a model without a signature: plain keys, one JSON type per key. Keys
    that differ only by case are refused by the gateway (the log and SQL read them as
    one), so no row here has two of them."""
    plain = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.\- ]{0,20}\Z")
    plain = plain.filter(lambda key: key not in RESERVED)
    keys = st.sampled_from(["a", "A", "a.b", "a_b", "a-b", "a b", "_"]) | plain  # near twins
    names = draw(st.lists(keys, min_size=1, max_size=4, unique_by=str.lower))
    kinds = {name: draw(st.sampled_from(["text", "bool", "number"])) for name in names}
    by_kind = {
        "text": st.text(max_size=20),
        "bool": st.booleans(),
        "number": st.integers(-INT64, INT64) | FINITE,
    }
    record = st.fixed_dictionaries({k: by_kind[v] | st.none() for k, v in kinds.items()})
    return draw(st.lists(record, min_size=1, max_size=5))


@st.composite
def tensor_rows(draw: st.DrawFn, width: int) -> list[list[Any]]:
    row = st.lists(NUMBERS, min_size=width, max_size=width)
    return draw(st.lists(row, min_size=1, max_size=5))


@st.composite
def predict_bodies(draw: st.DrawFn, rows: st.SearchStrategy[list[Any]]) -> Any:
    """``rows`` in one of the body forms a prediction takes."""
    drawn = draw(rows)
    forms = ["list", "records", "instances"]
    if isinstance(drawn[0], dict):
        forms += ["columns"] if all(r.keys() == drawn[0].keys() for r in drawn) else []
        forms += ["record"] if len(drawn) == 1 else []
    form = draw(st.sampled_from(forms))
    if form == "list":
        return drawn
    if form == "record":
        return drawn[0]
    if form == "columns":
        return {"columns": {k: [r[k] for r in drawn] for k in drawn[0]}}
    return {form: drawn}


def _datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    return "BYTES" if any(isinstance(v, str) for v in values) else "FP64"


@st.composite
def infer_bodies(draw: st.DrawFn, rows: st.SearchStrategy[list[Any]]) -> dict[str, Any]:
    """``rows`` as an Open Inference Protocol request: one tensor per field, or one
    [rows, width] tensor (nested, or flat in row-major order) for a tensor model."""
    drawn = draw(rows)
    count = len(drawn)
    if isinstance(drawn[0], list):
        width = len(drawn[0])
        flat = draw(st.booleans())
        data: Any = [v for row in drawn for v in row] if flat else drawn
        inputs = [{"name": "input-0", "shape": [count, width], "datatype": "FP64", "data": data}]
    else:
        inputs = [
            {"name": k, "shape": [count], "datatype": _datatype(column), "data": column}
            for k in drawn[0]
            for column in [[r[k] for r in drawn]]
        ]
        inputs = draw(st.permutations(inputs))
    body: dict[str, Any] = {"inputs": inputs}
    if draw(st.booleans()):
        body["id"] = draw(REQUEST_IDS)
    return body


def _spots(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _spots(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _spots(child, (*path, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, bodies: st.SearchStrategy[Any]) -> Any:
    """A well-formed body with one spot replaced, dropped, or given a hostile key."""
    body = copy.deepcopy(draw(bodies))
    path = draw(st.sampled_from(_spots(body)))
    if not path:
        return draw(json_values)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(json_values)
    elif action == "drop":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(KEYS)] = draw(json_values)
    else:
        parent.append(draw(json_values))
    return body
