"""Values at the edge: each JSON value checked against the kind its column takes
before it reaches a batch, a guardrail or the log.

A JSON parser hands over what a client wrote: integers of any size, ``true`` where
a number belongs, objects nested in a field. Each would break something downstream
(a model input, a guardrail's table, a log segment) for every request batched with
it, so the gateway refuses them here, naming the field."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from typing import Any

from prodml.errors import InvalidInputError

INT64 = 1 << 63  # the log and every model input hold at most a signed 64-bit integer
EXACT = 1 << 53  # the largest integer a float64 holds exactly
MAX_TEXT = 65_536  # characters of one text value
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\- ]{0,127}")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
MAX_KEY = 256  # characters of a routing key taken from a header or a field
_RANGES = {
    "int8": 1 << 7, "int16": 1 << 15, "int32": 1 << 31, "int64": INT64,
    "uint8": 1 << 8, "uint16": 1 << 16, "uint32": 1 << 32, "uint64": INT64,
}  # fmt: skip


class Rejected(InvalidInputError):
    """A request the gateway refuses, with the HTTP status and the field at fault."""

    def __init__(self, message: str, field: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def kind_of(type_text: str) -> str:
    """The JSON kind a signature type takes: integer, number, boolean, text, time or any."""
    if type_text in _RANGES:
        return "integer"
    if type_text == "bool":
        return "boolean"
    if type_text.startswith(("float", "double", "halffloat", "decimal")):
        return "number"
    if type_text.startswith(("string", "large_string", "dictionary<values=string")):
        return "text"
    if type_text.startswith(("timestamp", "date")):
        return "time"
    return "any"


def integer_range(type_text: str) -> tuple[int, int]:
    """The integers a signature's integer type holds (capped at int64)."""
    bound = _RANGES[type_text]
    if type_text.startswith("uint"):
        return 0, bound - 1
    return -bound, bound - 1


def check(value: Any, kind: str, type_text: str, field: str) -> None:
    """Refuse ``value`` unless it is a ``kind`` the column can hold; None is left to
    the caller, who knows whether the column is nullable."""
    if kind == "integer":
        _integer(value, type_text, field)
    elif kind == "number":
        number(value, field)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong(value, "true or false", field)
    elif kind == "text":
        text(value, field)
    elif kind == "time":
        if isinstance(value, str):
            text(value, field)
        else:
            number(value, field, "a date-time text or a number")
    else:
        scalar(value, field)


def number(value: Any, field: str, wanted: str = "a number") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(value, wanted, field)
    if isinstance(value, int) and abs(value) > EXACT:
        raise Rejected(
            f"Field {field!r} holds {_short(value)}, past ±2^53, which a float holds only "
            "approximately; send it as a number within that range.",
            field,
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise _wrong(value, "a finite number", field)


def _integer(value: Any, type_text: str, field: str) -> None:
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT:
        value = int(value)  # 3.0 for 3; a larger float is no exact integer
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(value, "an integer", field)
    low, high = integer_range(type_text)
    if not low <= value <= high:
        raise Rejected(
            f"Field {field!r} holds {_short(value)}, outside the {type_text} range "
            f"[{low}, {high}] the model takes.",
            field,
        )


def text(value: Any, field: str) -> None:
    if not isinstance(value, str):
        raise _wrong(value, "a text", field)
    if len(value) > MAX_TEXT:
        raise Rejected(
            f"Field {field!r} holds {len(value):,} characters; the limit is {MAX_TEXT:,}.", field
        )


def scalar(value: Any, field: str) -> str:
    """The JSON type of a value a model without a signature may take: text, a
    boolean or a number; nested objects and lists are refused."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= INT64:
            raise Rejected(
                f"Field {field!r} holds {_short(value)}, past the 64-bit integer range.", field
            )
        return "number"
    if isinstance(value, float):
        number(value, field)
        return "number"
    if isinstance(value, str):
        text(value, field)
        return "text"
    raise _wrong(value, "a text, number, boolean or null (not a nested object or list)", field)


def field_name(name: Any, index: int) -> str:
    """A key of a record for a model without a signature: it becomes a column of the
    prediction log, so it must be a plain name."""
    if not isinstance(name, str) or FIELD_NAME.fullmatch(name) is None:
        raise Rejected(
            f"Row {index} has a field named {_short(name)}; field names are 1 to 128 letters, "
            "digits, '_', '.', '-' or spaces, starting with a letter or '_'.",
            f"records[{index}]",
        )
    return name


def unsigned_row(row: Any, index: int, types: dict[str, str]) -> None:
    """A record for a model without a signature: plain names, scalar values, and one
    JSON type per field across the request's rows (``types`` collects them)."""
    if not isinstance(row, Mapping) or not row:
        raise Rejected(
            f"Row {index} must be an object of at least one field: value.", f"records[{index}]"
        )
    folded: dict[str, str] = {}
    for name, value in row.items():
        field_name(name, index)
        other = folded.setdefault(name.lower(), name)
        if other != name:
            raise Rejected(
                f"Row {index} has fields {other!r} and {name!r}, which differ only by case; "
                "the log and SQL read them as one. Rename one.",
                f"records[{index}]",
            )
        kind = scalar(value, name)
        if kind == "null":
            continue
        seen = types.setdefault(name, kind)
        if seen != kind:
            raise Rejected(
                f"Field {name!r} holds a {kind} in row {index} but a {seen} in an earlier row; "
                "send one type per field.",
                name,
            )


def new_request_id() -> str:
    """An id for a request that came without one: 128 random bits as 32 hex digits.

    Not ``uuid.uuid4()``: it reads ``os.urandom``, which lets go of the GIL for the
    system call, and the event loop then waits for the model and log threads to hand
    it back (up to the 5 ms switch interval) on every request. Python's own generator
    does not let go, is seeded from the OS and seeded again in a forked child; a
    request id names a request, it guards nothing."""
    return f"{random.getrandbits(128):032x}"


def request_id(value: Any, field: str = "x-request-id") -> str | None:
    """A client's request id: 1 to 128 letters, digits, '.', '_', ':' or '-'."""
    if value is None or value == "":  # no id: the gateway makes one
        return None
    if not isinstance(value, str) or REQUEST_ID.fullmatch(value) is None:
        shown = repr(value)[:40]
        raise Rejected(
            f"The request id {shown} is not 1 to 128 letters, digits, '.', '_', ':' or '-'; "
            "send such an id or none (the gateway then makes one).",
            field,
        )
    return value


def _wrong(value: Any, wanted: str, field: str) -> Rejected:
    shown = "true/false" if isinstance(value, bool) else type(value).__name__
    return Rejected(
        f"Field {field!r} holds {shown} {_short(value)}; the model expects {wanted} there.",
        field,
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
