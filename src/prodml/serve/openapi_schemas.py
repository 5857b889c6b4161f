"""JSON schemas of what the gateway accepts: a value per signature column type, a
record or tensor row per model, the body forms of a prediction and of an Open
Inference Protocol infer request. OpenAPI 3.0 dialect (``nullable``, no type lists),
so the document stays readable by every client generator."""

from __future__ import annotations

from typing import Any

from prodml.serve import values
from prodml.serve.bodies import MAX_WHY
from prodml.serve.inputs import MAX_FIELDS, MAX_ROWS

Schema = dict[str, Any]

INT64 = values.INT64 - 1  # the widest integer any column takes (|v| < 2^63)
EXACT = values.EXACT  # the widest integer a number column takes: a double holds it exactly
REQUEST_ID: Schema = {
    "type": "string",
    "pattern": f"^{values.REQUEST_ID.pattern}$",
    "minLength": 1,
    "maxLength": 128,
}
KEY_PATTERN = f"^{values.FIELD_NAME.pattern}$"
WHY: Schema = {"type": "string", "maxLength": MAX_WHY, "nullable": True}
OIP_DATATYPES = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip
_BODY_KEYS = ("records", "instances", "columns", "inputs")


def _integer(low: int, high: int) -> Schema:
    return {"type": "integer", "minimum": max(low, -INT64), "maximum": min(high, INT64)}


_INTEGERS = {
    **{f"int{bits}": _integer(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"uint{bits}": _integer(0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}
# A number: any finite double, but an integer literal only where a double holds it
# exactly (JSON has no NaN or infinity, and the gateway refuses 1e400).
NUMBER: Schema = {
    "type": "number",
    "anyOf": [
        {"type": "integer", "minimum": -EXACT, "maximum": EXACT},
        {"not": {"type": "integer"}},
    ],
}
BOOLEAN: Schema = {"type": "boolean"}
TEXT: Schema = {"type": "string", "maxLength": values.MAX_TEXT}
TIME: Schema = {
    "anyOf": [TEXT, NUMBER],
    "description": "An ISO 8601 text, or a number of nanoseconds since 1970",
}
SCALAR: Schema = {
    "anyOf": [TEXT, BOOLEAN, _integer(-INT64, INT64), NUMBER],
}
FREE_VALUE: Schema = {**SCALAR, "nullable": True}


def value(kind: str) -> Schema:
    """The schema of one value of a signature column type (Arrow's name for it)."""
    if kind in _INTEGERS:
        return dict(_INTEGERS[kind])
    if kind in ("float", "double", "halffloat") or kind.startswith("decimal"):
        return dict(NUMBER)
    if kind == "bool":
        return dict(BOOLEAN)
    if kind.startswith(("string", "large_string", "dictionary<values=string")):
        return dict(TEXT)
    if kind.startswith(("timestamp", "date")):
        return dict(TIME)
    return dict(SCALAR)


def column(spec: dict[str, Any]) -> Schema:
    """A column's value schema; null is allowed unless the signature says otherwise."""
    return {**value(str(spec["type"])), "nullable": spec.get("nullable") is not False}


def rows(item: Schema) -> Schema:
    return {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_ROWS}


def wrapped(key: str, item: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {key: item},
        "required": [key],
        "additionalProperties": False,
    }


def signed_record(columns: list[dict[str, Any]]) -> Schema:
    return {
        "type": "object",
        "properties": {c["name"]: column(c) for c in columns},
        "required": [c["name"] for c in columns],
        "additionalProperties": False,
    }


def free_record() -> Schema:
    """A record of a model logged without a signature: scalar values under plain keys."""
    return {
        "type": "object",
        "additionalProperties": FREE_VALUE,
        "maxProperties": MAX_FIELDS,
        "not": {"anyOf": [{"required": [key]} for key in _BODY_KEYS]},
        "x-key-pattern": KEY_PATTERN,
        "description": f"Keys match {KEY_PATTERN}; each key holds one JSON type per request.",
    }


def tensor_row(width: int) -> Schema:
    row: Schema = {"type": "array", "items": NUMBER}
    return {**row, "minItems": width, "maxItems": width} if width > 0 else row


def width_of(signature: dict[str, Any]) -> int:
    shape = signature.get("shape") or []
    return int(shape[-1]) if len(shape) == 2 and isinstance(shape[-1], int) else 0


def predict_body(signature: dict[str, Any]) -> Schema:
    """Every body form a prediction takes, disjoint so that exactly one matches."""
    if signature.get("kind") == "tensor":
        row = tensor_row(width_of(signature))
        forms = [rows(row), wrapped("records", rows(row)), wrapped("instances", rows(row))]
        return {"oneOf": forms}
    columns = signature.get("columns") if signature.get("kind") == "columns" else None
    record = signed_record(columns) if columns else free_record()
    if columns:
        by_name = {c["name"]: rows(column(c)) for c in columns}
        table = {**signed_record(columns), "properties": by_name}
    else:
        table = {"type": "object", "additionalProperties": rows(FREE_VALUE)}
    return {
        "oneOf": [
            record,
            rows(record),
            wrapped("records", rows(record)),
            wrapped("instances", rows(record)),
            wrapped("columns", table),
        ],
        "description": f"At most {MAX_ROWS:,} rows; in 'columns', lists of one length.",
    }


def _tensor(name: Schema, data: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {
            "name": name,
            "shape": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 1,
                "maxItems": 2,
                "description": "[rows] or [rows, columns]; its product is the count of values",
            },
            "datatype": {"type": "string", "enum": OIP_DATATYPES},
            "data": data,
            "parameters": {"type": "object"},
        },
        "required": ["name", "datatype", "data"],
        "additionalProperties": False,
    }


def infer_body(signature: dict[str, Any], outputs: tuple[str, ...] = ("predict",)) -> Schema:
    """An infer request: a tensor per signature column, or one [rows, width] tensor
    whose data is nested rows or flat in row-major order; the outputs it wants."""
    inputs: Schema = {"type": "array", "items": _input(signature), "minItems": 1}
    if signature.get("kind") == "tensor":
        inputs["maxItems"] = 1
    elif signature.get("columns"):
        inputs["maxItems"] = len(signature["columns"])
    flag: Schema = {"type": "boolean"}
    return {
        "type": "object",
        "properties": {
            "id": REQUEST_ID,
            "inputs": inputs,
            "outputs": {"type": "array", "items": _output(outputs), "maxItems": len(outputs)},
            "parameters": {"type": "object", "properties": {"binary_data_output": flag}},
        },
        "required": ["inputs"],
        "additionalProperties": False,
        "description": (
            "One tensor per input, each holding one value per row; or one [rows, columns] "
            "tensor of the signature's columns in order. With the binary tensor data "
            "extension, the body is this JSON (its length in the "
            "Inference-Header-Content-Length header) followed by each input's raw bytes."
        ),
    }


def _output(names: tuple[str, ...]) -> Schema:
    parameters = {"type": "object", "properties": {"binary_data": {"type": "boolean"}}}
    return {
        "type": "object",
        "properties": {"name": {"type": "string", "enum": list(names)}, "parameters": parameters},
        "required": ["name"],
        "additionalProperties": False,
    }


def kserve_body(signature: dict[str, Any]) -> Schema:
    """A KServe v1 request: ``instances``, records (or lists in column order)."""
    if signature.get("kind") == "tensor":
        return wrapped("instances", rows(tensor_row(width_of(signature))))
    columns = signature.get("columns") if signature.get("kind") == "columns" else None
    record = signed_record(columns) if columns else free_record()
    body = wrapped("instances", rows(record))
    if columns:
        body["description"] = "An instance may also be a list of values in column order."
    return body


def _input(signature: dict[str, Any]) -> Schema:
    if signature.get("kind") == "tensor":
        numbers = {"type": "array", "items": NUMBER, "minItems": 1}
        nested = rows(tensor_row(width_of(signature)))
        return _tensor({"type": "string"}, {"anyOf": [nested, numbers]})
    columns = signature.get("columns") if signature.get("kind") == "columns" else None
    if not columns:
        return _tensor({"type": "string", "pattern": KEY_PATTERN}, rows(dict(FREE_VALUE)))
    # disjoint by name (and above, by item type): anyOf says the same as oneOf, and a
    # generator need not check every branch against each value it makes
    return {
        "anyOf": [
            _tensor({"type": "string", "enum": [c["name"]]}, rows(column(c))) for c in columns
        ]
    }


def admin_body() -> Schema:
    return {
        "type": "object",
        "properties": {"why": WHY},
        "additionalProperties": False,
        "description": "Optional; the reason recorded with the change.",
    }
