"""Files of the prediction log: Parquet segments and quarantined rows.

A segment is ``<log>/<model>/<day>/<kind><HHMMSS>-<writer>-<random>.parquet``, where
the writer is ``<host>.<pid>`` (the host from ``PRODML_HOST``, else the machine's
name); rows that could not be written as one are kept as JSON lines, with the reason,
under ``<log>/_quarantine/<model>/<day>/``. The log is a local folder or an object
store (:mod:`prodml.stores.log_files`); either way a file appears whole or not at all,
so a reader never sees a partial file and a kill -9 never leaves a corrupt one. Names
start with the time, so that one hour of a day is one name prefix, and hold the
writer, so that many processes on many hosts write side by side without coordination.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prodml.predictions.layout import folder_of
from prodml.predictions.rows import as_json
from prodml.settings import host_name
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

QUARANTINE = "_quarantine"  # beside the models' folders; no model name starts with "_"


def write_segment(
    log: LogFiles | Path, model: str, table: pa.Table, kind: str = "", at: float | None = None
) -> str:
    """Write ``table`` as one segment, in the day folder of ``at`` (epoch seconds;
    default now, as a gateway does; a replay of past traffic gives its time); returns
    the path readers open."""
    files = open_log_files(log)
    key = placed(folder_of(model), kind, "parquet", at)
    return files.write(key, lambda handle: pq.write_table(table, handle, compression="zstd"))


def write_quarantine(
    log: LogFiles | Path, model: str, rows: Sequence[dict[str, Any]], errors: Sequence[str]
) -> str:
    """Keep rows that could not be written in a segment as JSON lines, each with
    its error, under the quarantine folder (no value can make this fail)."""
    text = b"".join(
        as_json({"error": error, "row": row}).encode() + b"\n"
        for row, error in zip(rows, errors, strict=True)
    )
    key = placed(f"{QUARANTINE}/{folder_of(model)}", "", "jsonl", None)
    return open_log_files(log).write(key, lambda handle: handle.write(text))


def placed(folder: str, kind: str, suffix: str, at: float | None) -> str:
    """A new file's key: ``<folder>/<day>/<kind><HHMMSS>-<writer>-<random>.<suffix>``."""
    now = time.time() if at is None else at
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    stamp = time.strftime("%H%M%S", time.gmtime(now))
    return f"{folder}/{day}/{kind}{stamp}-{writer()}-{uuid.uuid4().hex[:12]}.{suffix}"


def writer() -> str:
    """This process in a file name: ``<host>.<pid>``, the host made of letters, digits,
    ``_`` and ``.`` only (a name never needs quoting, and ``-`` stays the separator)."""
    return f"{_host()}.{os.getpid()}"


def _host() -> str:
    named = host_name() or "host"
    return re.sub(r"[^A-Za-z0-9_.]", "_", named)[:64].strip(".") or "host"


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
