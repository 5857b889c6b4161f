"""Parquet segments of the prediction log, written in batches off the response path.

A writer buffers rows in memory and a background thread writes them every
``flush_interval`` seconds (or every ``max_rows`` rows) as one segment:
``<folder>/<model>/<day>/<time>-<pid>-<random>.parquet``. A segment is written to a
hidden temporary name, synced, then renamed, so a reader never sees a partial file:
a kill -9 loses at most the rows buffered since the last flush and never leaves a
corrupt segment. Several processes write side by side without coordination.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def write_segment(
    folder: Path, model: str, table: pa.Table, kind: str = "", at: float | None = None
) -> Path:
    """Write ``table`` as one segment atomically, in the day folder of ``at`` (epoch
    seconds; default now, as a gateway does; a replay of past traffic gives its time)."""
    now = time.time() if at is None else at
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    stamp = time.strftime("%H%M%S", time.gmtime(now))
    name = f"{kind}{stamp}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
    target = folder / model / day / name
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{name}.tmp")
    with temporary.open("wb") as handle:
        pq.write_table(table, handle, compression="zstd")
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
    import orjson

    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError:
        return str(value)


class SegmentWriter:
    """Buffers rows per model and writes them as segments from a background thread."""

    def __init__(
        self,
        folder: Path,
        flush_interval: float = 1.0,
        max_rows: int = 50_000,
        typed: Sequence[str] = ("output", "shadow_output"),
    ) -> None:
        self.folder = folder
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self.typed = tuple(typed)
        self.written = 0
        self.failures = 0
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="prodml-log", daemon=True)
        self._thread.start()

    def append(self, model: str, rows: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            buffered = self._rows.setdefault(model, [])
            buffered.extend(rows)
            full = len(buffered) >= self.max_rows
        if full:
            self._wake.set()

    def flush(self) -> None:
        with self._lock:
            pending, self._rows = self._rows, {}
        for model, rows in pending.items():
            if not rows:
                continue
            try:
                write_segment(self.folder, model, table_of(rows, self.typed))
                self.written += len(rows)
            except (OSError, pa.ArrowException) as error:
                self.failures += 1
                _warn(f"prodml: could not write {len(rows)} logged predictions: {error}")

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()


def _warn(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)
