"""One in-memory DuckDB database a process keeps for queries over Arrow tables.

Opening a database costs 20-30 ms of CPU, as much as hashing the rows of a table of
100,000 rows, so a small query takes a cursor of the kept database; a large one a
database of its own, whose memory is returned when it closes. One query at a time:
the lock keeps memory use bounded."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

SHARED_ROWS = 1_000_000  # tables up to this many rows are queried in the kept database
_lock = threading.Lock()
_shared: Any = None  # open once a query ran


@contextlib.contextmanager
def connection(rows: int) -> Iterator[Any]:
    """A DuckDB connection for a query over tables of ``rows`` rows in all; closed after
    (a cursor's temporary tables and registered views go with it)."""
    import duckdb

    global _shared
    with _lock:
        if rows > SHARED_ROWS:
            opened = duckdb.connect()
        else:
            if _shared is None:
                _shared = duckdb.connect()
            opened = _shared.cursor()
        try:
            yield opened
        finally:
            opened.close()


def _close_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


def _before_fork() -> None:
    """A forked child cannot use a database its parent has open (its threads are not
    in the child: a query there waits forever), so it is closed before a fork, once
    no query runs; the child opens its own."""
    _lock.acquire()
    _close_shared()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(
        before=_before_fork, after_in_parent=_lock.release, after_in_child=_lock.release
    )
