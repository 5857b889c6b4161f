"""The binary tensor data extension of the Open Inference Protocol (v2), as Triton's
and KServe's clients send it by default.

A body is a JSON header of ``Inference-Header-Content-Length`` bytes, then the raw
bytes of each input whose ``parameters.binary_data_size`` is set, in input order:
little-endian numbers, or for BYTES each element as a 4-byte little-endian length
and its bytes. Answers go back the same way when asked for. Every size, count and
shape read from the wire is checked against the bytes actually received before
anything is allocated, and each refusal names the field at fault."""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from prodml.serve import bodies
from prodml.serve.values import Rejected

HEADER = "inference-header-content-length"
DTYPES = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip
DATATYPES = (*DTYPES, "BYTES")  # BF16 is left out: numpy has no bfloat16 to read it as
MAX_ELEMENTS = 10_000_000  # values of one tensor, whatever its shape says
MAX_RANK = 2  # a tabular tensor: [rows] or [rows, columns]
_LENGTH = struct.Struct("<I")


def split(raw: bytes, header: str | None) -> tuple[Any, memoryview]:
    """The JSON header of a body and the binary bytes after it (none without the
    ``Inference-Header-Content-Length`` header)."""
    if header is None:
        return bodies.loads(raw), memoryview(b"")
    text = header.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise Rejected(f"The {HEADER} header is {header[:40]!r}, not a byte count.", HEADER, 400)
    length = int(text)
    if length > len(raw):
        raise Rejected(
            f"The {HEADER} header says {length:,} bytes of JSON, but the body holds {len(raw):,}.",
            HEADER,
            400,
        )
    return bodies.loads(raw[:length]), memoryview(raw)[length:]


def shape_of(value: Any, field: str) -> tuple[int, ...]:
    """A tensor's declared shape: one or two non-negative sizes holding at most
    ``MAX_ELEMENTS`` values."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RANK:
        raise Rejected(
            f"{field} must be a list of one or two sizes, [rows] or [rows, columns].", field
        )
    for size in value:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise Rejected(f"{field} holds {str(size)[:40]}; each size is an integer >= 0.", field)
        if size > MAX_ELEMENTS:
            raise _too_many(size, field)
    count = math.prod(value)
    if count > MAX_ELEMENTS:
        raise _too_many(count, field)
    return tuple(value)


def _too_many(count: int, field: str) -> Rejected:
    return Rejected(
        f"{field} makes {count:,} values; one tensor holds at most {MAX_ELEMENTS:,}.", field, 413
    )


def datatype_of(tensor: Mapping[str, Any], field: str, required: bool) -> str | None:
    """A tensor's datatype: one of the protocol's names (None when absent and not
    ``required``: a JSON tensor's values are judged by the signature instead)."""
    datatype = tensor.get("datatype")
    if datatype is None and not required:
        return None
    if datatype not in DATATYPES:
        known = ", ".join(DATATYPES)
        raise Rejected(
            f"{field}.datatype is {str(datatype)[:40]!r}; use one of: {known}.",
            f"{field}.datatype",
        )
    return str(datatype)


def binary_size(tensor: Mapping[str, Any], field: str) -> int | None:
    """``parameters.binary_data_size`` of an input: None when its data is JSON."""
    parameters = tensor.get("parameters")
    if parameters is None:
        return None
    if not isinstance(parameters, Mapping):
        raise Rejected(f"{field}.parameters must be an object.", f"{field}.parameters")
    size = parameters.get("binary_data_size")
    if size is None:
        return None
    where = f"{field}.parameters.binary_data_size"
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Rejected(f"{where} is {str(size)[:40]}; it must be a byte count >= 0.", where)
    return size


def cut(sizes: Sequence[int | None], rest: memoryview) -> list[memoryview | None]:
    """The binary bytes of each input, in input order; the sizes must add up to
    exactly the bytes after the JSON header."""
    parts: list[memoryview | None] = []
    offset = 0
    for index, size in enumerate(sizes):
        if size is None:
            parts.append(None)
            continue
        if offset + size > len(rest):
            where = f"inputs[{index}].parameters.binary_data_size"
            raise Rejected(
                f"{where} is {size:,} bytes, but only {len(rest) - offset:,} follow the JSON "
                f"header there.",
                where,
                400,
            )
        parts.append(rest[offset : offset + size])
        offset += size
    if offset != len(rest):
        raise Rejected(
            f"The body holds {len(rest) - offset:,} bytes past the JSON header that no input's "
            "binary_data_size accounts for.",
            HEADER,
            400,
        )
    return parts


def decode(part: memoryview, datatype: str, count: int, field: str) -> list[Any]:
    """The values of a binary input, row-major: exactly ``count`` of ``datatype``."""
    if datatype == "BYTES":
        return _strings(part, count, field)
    dtype = np.dtype(DTYPES[datatype])
    if len(part) != count * dtype.itemsize:
        where = f"{field}.parameters.binary_data_size"
        raise Rejected(
            f"{where} is {len(part):,} bytes, but its shape makes {count:,} {datatype} values "
            f"of {dtype.itemsize} bytes ({count * dtype.itemsize:,} bytes).",
            where,
        )
    values: list[Any] = np.frombuffer(part, dtype=dtype).tolist()
    return values


def _strings(part: memoryview, count: int, field: str) -> list[Any]:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes
    (UTF-8 text, as a model's text columns take)."""
    values: list[Any] = []
    offset, size = 0, len(part)
    where = f"{field}.parameters.binary_data_size"
    while offset < size:
        if len(values) == count:
            raise Rejected(f"{field} holds more BYTES elements than its shape's {count:,}.", where)
        if offset + 4 > size:
            raise Rejected(f"{field} ends inside the length of BYTES element {len(values)}.", where)
        (length,) = _LENGTH.unpack_from(part, offset)
        offset += 4
        if length > size - offset:
            raise Rejected(
                f"BYTES element {len(values)} of {field} says {length:,} bytes; only "
                f"{size - offset:,} follow.",
                where,
            )
        values.append(_text(part[offset : offset + length], f"{field}[{len(values)}]"))
        offset += length
    if len(values) != count:
        raise Rejected(
            f"{field} holds {len(values):,} BYTES elements; its shape makes {count:,}.", where
        )
    return values


def _text(raw: memoryview, field: str) -> str:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(f"{field} is not UTF-8 text.", field) from None


def encode(values: Sequence[Any], datatype: str) -> bytes:
    """Values as the extension's raw bytes; None is NaN in a float tensor and an
    empty element in a BYTES one."""
    if datatype == "BYTES":
        return b"".join(_element(value) for value in values)
    if datatype.startswith("FP"):
        values = [math.nan if value is None else value for value in values]
    return np.asarray(values, dtype=np.dtype(DTYPES[datatype])).tobytes()


def _element(value: Any) -> bytes:
    raw = b"" if value is None else (value if isinstance(value, bytes) else str(value).encode())
    return _LENGTH.pack(len(raw)) + raw
