"""One Parquet file from parts encoded apart (in other processes, at the same time):
each part is a whole Parquet file of consecutive rows; the file made of them holds the
parts' row groups, in order, byte for byte (nothing is decoded or encoded again), and
a footer that lists them all.

A footer is Thrift (compact protocol). It is read field by field, the row groups'
byte offsets are moved by where their part lands in the new file, and it is written
back in the same order and encoding, so a footer read and written unchanged is the
same bytes. Parts must share one schema (the caller checks, else writes the table).
Parts that start on multiples of :data:`ROW_GROUP` rows give the file one writer
makes of the whole table, byte for byte (:func:`aligned_ranges` cuts them so)."""

from __future__ import annotations

import io
import itertools
import os
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

MAGIC = b"PAR1"
COMPRESSION = "zstd"  # as a logged table version's file is written
ROW_GROUP = 1024 * 1024  # rows per row group, as pyarrow writes a table

# Thrift compact types
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY = 1, 2, 3, 4, 5, 6, 7, 8
_LIST, _SET, _MAP, _STRUCT = 9, 10, 11, 12
# Field ids (parquet.thrift) of what moves with a row group
_FILE_ROWS, _FILE_ROW_GROUPS = 3, 4
_GROUP_COLUMNS, _GROUP_OFFSET, _GROUP_ORDINAL = 1, 5, 7
_CHUNK_OFFSET, _CHUNK_META, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX = 2, 3, 4, 6
_META_OFFSETS = (9, 10, 11, 14)  # data, index and dictionary pages; bloom filter

Field = list[Any]  # [field id, compact type, value]


def encode(table: pa.Table) -> pa.Buffer:
    """The table as a Parquet file in memory, written as a table version's file is.
    It is written to a scratch file and read back: writing into a growing buffer in
    memory cost half as much again (its copies as it grows)."""
    import pyarrow.parquet as pq

    handle, name = tempfile.mkstemp(suffix=".parquet")
    os.close(handle)
    try:
        pq.write_table(table, name, compression=COMPRESSION)
        with pa.OSFile(name) as file:
            return file.read_buffer()
    finally:
        os.unlink(name)


def aligned_ranges(rows: int, parts: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of ``parts`` runs of rows, each starting on a row group's first
    row when that keeps every part within a fifth of the even share, else cut evenly
    (none empty; fewer parts than asked when there are fewer rows)."""
    count = max(1, min(parts, rows))
    even = [rows * i // count for i in range(count + 1)]
    groups = [round(rows * i / count / ROW_GROUP) * ROW_GROUP for i in range(count)]
    aligned = [*groups, rows]
    share = rows / count
    sizes = [stop - start for start, stop in itertools.pairwise(aligned)]
    balanced = all(0.8 * share <= size <= 1.2 * share for size in sizes)
    bounds = aligned if balanced else even
    return list(itertools.pairwise(bounds))


def concatenate(parts: Sequence[pa.Buffer], path: Path) -> None:
    """Write one Parquet file at ``path`` holding the parts' rows in order."""
    if not parts:
        raise ValueError("No Parquet parts to join.")
    bodies = [_split(part) for part in parts]
    footer = bodies[0][1]
    groups: list[Any] = []
    rows = 0
    offset = len(MAGIC)
    with path.open("wb") as out:
        out.write(MAGIC)
        for body, meta in bodies:
            for group in _value(meta, _FILE_ROW_GROUPS)[1]:
                _move(group, offset - len(MAGIC), len(groups))
                groups.append(group)
            rows += _value(meta, _FILE_ROWS)
            out.write(body)
            offset += len(body)
        _set(footer, _FILE_ROWS, rows)
        _set(footer, _FILE_ROW_GROUPS, (_STRUCT, groups))
        encoded = io.BytesIO()
        _write_struct(encoded, footer)
        out.write(encoded.getvalue())
        out.write(struct.pack("<I", len(encoded.getvalue())))
        out.write(MAGIC)


def _split(part: Any) -> tuple[memoryview, list[Field]]:
    """A part's bytes between its leading magic and its footer, and the footer read."""
    view = memoryview(part).cast("B")  # Arrow buffers show signed bytes
    if bytes(view[:4]) != MAGIC or bytes(view[-4:]) != MAGIC:
        raise ValueError("A Parquet part lacks the PAR1 marks.")
    (size,) = struct.unpack("<I", view[-8:-4])
    start = len(view) - 8 - size
    footer, _ = _read_struct(view[start:-8], 0)
    return view[4:start], footer


def _move(group: list[Field], shift: int, ordinal: int) -> None:
    """Move a row group's byte offsets by ``shift`` and give it its place. An offset of
    0 is one not given (Arrow writes 0 as a column chunk's own offset) and stays 0."""
    for field in group:
        if field[0] == _GROUP_OFFSET:
            field[2] = _moved(field[2], shift)
        elif field[0] == _GROUP_ORDINAL:
            field[2] = ordinal
        elif field[0] == _GROUP_COLUMNS:
            for chunk in field[2][1]:
                _move_chunk(chunk, shift)


def _move_chunk(chunk: list[Field], shift: int) -> None:
    for field in chunk:
        if field[0] in (_CHUNK_OFFSET, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX):
            field[2] = _moved(field[2], shift)
        elif field[0] == _CHUNK_META:
            for meta in field[2]:
                if meta[0] in _META_OFFSETS:
                    meta[2] = _moved(meta[2], shift)


def _moved(offset: int, shift: int) -> int:
    return offset + shift if offset else 0


def _value(fields: list[Field], number: int) -> Any:
    return next(field[2] for field in fields if field[0] == number)


def _set(fields: list[Field], number: int, value: Any) -> None:
    next(field for field in fields if field[0] == number)[2] = value


# Thrift compact protocol: a struct is read as its fields in order, each kept with its
# wire type, so that writing it back gives the same bytes.


def _varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _read_struct(data: memoryview, at: int) -> tuple[list[Field], int]:
    fields: list[Field] = []
    last = 0
    while True:
        header = data[at]
        at += 1
        if header == 0:
            return fields, at
        kind, delta = header & 0x0F, header >> 4
        if delta:
            number = last + delta
        else:
            raw, at = _varint(data, at)
            number = _zigzag(raw)
        if kind in (_TRUE, _FALSE):
            value: Any = kind == _TRUE
        else:
            value, at = _read_value(data, at, kind)
        fields.append([number, kind, value])
        last = number


def _read_value(data: memoryview, at: int, kind: int) -> tuple[Any, int]:
    if kind in (_TRUE, _FALSE, _BYTE):  # a bool inside a list is one byte
        return data[at], at + 1
    if kind in (_I16, _I32, _I64):
        raw, at = _varint(data, at)
        return _zigzag(raw), at
    if kind == _DOUBLE:
        return bytes(data[at : at + 8]), at + 8
    if kind == _BINARY:
        size, at = _varint(data, at)
        return bytes(data[at : at + size]), at + size
    if kind in (_LIST, _SET):
        header = data[at]
        at += 1
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size, at = _varint(data, at)
        items = []
        for _ in range(size):
            item, at = _read_value(data, at, element)
            items.append(item)
        return (element, items), at
    if kind == _STRUCT:
        return _read_struct(data, at)
    raise ValueError(f"Thrift type {kind} is not expected in a Parquet footer.")


def _write_varint(out: io.BytesIO, value: int) -> None:
    while value >= 0x80:
        out.write(bytes([(value & 0x7F) | 0x80]))
        value >>= 7
    out.write(bytes([value]))


def _write_zigzag(out: io.BytesIO, value: int) -> None:
    _write_varint(out, (value << 1) ^ (value >> 63))


def _write_struct(out: io.BytesIO, fields: list[Field]) -> None:
    last = 0
    for number, kind, value in fields:
        wire = (_TRUE if value else _FALSE) if kind in (_TRUE, _FALSE) else kind
        if 0 < number - last <= 15:
            out.write(bytes([((number - last) << 4) | wire]))
        else:
            out.write(bytes([wire]))
            _write_zigzag(out, number)
        if kind not in (_TRUE, _FALSE):
            _write_value(out, kind, value)
        last = number
    out.write(b"\x00")


def _write_value(out: io.BytesIO, kind: int, value: Any) -> None:
    if kind in (_TRUE, _FALSE, _BYTE):
        out.write(bytes([value]))
    elif kind in (_I16, _I32, _I64):
        _write_zigzag(out, value)
    elif kind == _DOUBLE:
        out.write(value)
    elif kind == _BINARY:
        _write_varint(out, len(value))
        out.write(value)
    elif kind in (_LIST, _SET):
        element, items = value
        if len(items) < 15:
            out.write(bytes([(len(items) << 4) | element]))
        else:
            out.write(bytes([0xF0 | element]))
            _write_varint(out, len(items))
        for item in items:
            _write_value(out, element, item)
    elif kind == _STRUCT:
        _write_struct(out, value)
    else:
        raise ValueError(f"Thrift type {kind} is not expected in a Parquet footer.")
