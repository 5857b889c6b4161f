"""The input signature of a model version, enforced before every prediction."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from prodml.errors import InvalidInputError


def columns(signature: dict[str, Any]) -> list[str] | None:
    if signature.get("kind") != "columns":
        return None
    return [column["name"] for column in signature["columns"]]


def _family(kind: pa.DataType) -> str:
    if pa.types.is_dictionary(kind):
        return _family(kind.value_type)
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return "number"
    if pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_temporal(kind):
        return "time"
    if pa.types.is_null(kind):
        return "null"
    return str(kind)


def conform(table: pa.Table, signature: dict[str, Any], ref: str) -> pa.Table:
    """The signature's columns of ``table`` in its order, cast to its types; a missing
    column or a value of the wrong kind is refused with the column named."""
    expected = signature.get("columns") if signature.get("kind") == "columns" else None
    if not expected:
        return table
    missing = [c["name"] for c in expected if c["name"] not in table.column_names]
    if missing:
        raise InvalidInputError(
            f"Input to model {ref} lacks column(s) {', '.join(map(repr, missing))}. "
            f"The model expects: {', '.join(c['name'] for c in expected)}."
        )
    arrays = []
    for column in expected:
        name, wanted = column["name"], _type(column["type"])
        values = table.column(name)
        if wanted is None or values.type == wanted:
            arrays.append(values)
            continue
        have, want = _family(values.type), _family(wanted)
        if have not in (want, "null"):
            raise InvalidInputError(
                f"Input column {name!r} to model {ref} holds {values.type} values; the model "
                f"expects {wanted}. Send {want} values in {name!r}."
            )
        if have == want == "number" or have == "null":
            arrays.append(values)  # numbers reach the model as sent; no silent rounding
            continue
        try:
            arrays.append(values.cast(wanted))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise InvalidInputError(
                f"Input column {name!r} to model {ref} cannot be read as {wanted}: {error}."
            ) from None
    return pa.table(arrays, names=[c["name"] for c in expected])


def _type(text: str) -> pa.DataType | None:
    simple = {
        "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
        "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(), "uint64": pa.uint64(),
        "float": pa.float32(), "double": pa.float64(), "halffloat": pa.float16(),
        "bool": pa.bool_(), "string": pa.string(), "large_string": pa.large_string(),
    }  # fmt: skip
    if text in simple:
        return simple[text]
    if text.startswith("dictionary<values=string"):
        return pa.string()
    return None
