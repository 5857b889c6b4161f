"""Files of the prediction log: Parquet segments and quarantined rows.

A segment is ``<folder>/<model>/<day>/<kind><time>-<pid>-<random>.parquet``; rows
that could not be written as one are kept as JSON lines, with the reason, under
``<folder>/_quarantine/<model>/<day>/``. Each file is written to a hidden temporary
name, synced, then renamed, so a reader never sees a partial file and a kill -9
never leaves a corrupt one. Several processes write side by side without
coordination.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from prodml.predictions.rows import as_json

QUARANTINE = "_quarantine"  # beside the models' folders; no model name starts with "_"


def write_segment(
    folder: Path, model: str, table: pa.Table, kind: str = "", at: float | None = None
) -> Path:
    """Write ``table`` as one segment atomically, in the day folder of ``at`` (epoch
    seconds; default now, as a gateway does; a replay of past traffic gives its time)."""
    target = _placed(folder / model, kind, "parquet", at)
    return _atomic(target, lambda handle: pq.write_table(table, handle, compression="zstd"))


def write_quarantine(
    folder: Path, model: str, rows: Sequence[dict[str, Any]], errors: Sequence[str]
) -> Path:
    """Keep rows that could not be written in a segment as JSON lines, each with
    its error, under the quarantine folder (no value can make this fail)."""
    text = b"".join(
        as_json({"error": error, "row": row}).encode() + b"\n"
        for row, error in zip(rows, errors, strict=True)
    )
    target = _placed(folder / QUARANTINE / model, "", "jsonl", None)
    return _atomic(target, lambda handle: handle.write(text))


def _placed(folder: Path, kind: str, suffix: str, at: float | None) -> Path:
    now = time.time() if at is None else at
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    stamp = time.strftime("%H%M%S", time.gmtime(now))
    return folder / day / f"{kind}{stamp}-{os.getpid()}-{uuid.uuid4().hex[:12]}.{suffix}"


def _atomic(target: Path, write: Callable[[BinaryIO], object]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    with temporary.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return target


def table_of(rows: Sequence[dict[str, Any]], typed: Sequence[str] = ()) -> pa.Table:
    """Rows as a table; ``typed`` columns hold model outputs or labels, stored as numbers
    when every value is a number and as text otherwise, so segments stay readable."""
    columns: dict[str, list[Any]] = {key: [row.get(key) for row in rows] for key in rows[0]}
    for key in typed:
        if key in columns:
            columns[key] = _uniform(columns[key])
    return pa.Table.from_pydict(columns)


def _uniform(values: list[Any]) -> list[Any]:
    present = [v for v in values if v is not None]
    if all(isinstance(v, int | float) for v in present):
        return [None if v is None else float(v) for v in values]
    return [None if v is None else (v if isinstance(v, str) else _text(v)) for v in values]


def _text(value: Any) -> str:
    return as_json(value)
