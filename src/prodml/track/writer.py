"""The background writer: params and metric points are appended to in-memory
queues by the caller and written in one transaction per batch by a thread.

Durability points: ``flush()`` (also called at run end, on an exception inside
a run, and at interpreter exit). Between them, at most one flush interval
(``PRODML_FLUSH_INTERVAL``, 0.5 s by default) of points is held in memory.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque

from prodml.errors import ParamConflictError, StoreError
from prodml.stores.metadata import MetadataStore
from prodml.stores.sql_runs import Finish

Point = tuple[str, str, int, float, float]
Param = tuple[str, str, str]
HIGH_WATER = 100_000
MAX_BATCH = 250_000

_writers: weakref.WeakSet[BatchWriter] = weakref.WeakSet()


class BatchWriter:
    def __init__(self, store: MetadataStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self.points: deque[Point] = deque()
        self.params: deque[Param] = deque()
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._failure: Exception | None = None
        self._thread = threading.Thread(target=self._loop, name="prodml-writer", daemon=True)
        self._thread.start()
        _writers.add(self)

    def add_point(self, point: Point) -> None:
        self.points.append(point)
        if len(self.points) >= HIGH_WATER:
            self._wake.set()

    def add_params(self, params: list[Param]) -> None:
        self.params.extend(params)

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.drain()
            except Exception as error:  # kept and raised at the next flush
                self._failure = error

    def drain(self, finish: Finish | None = None) -> None:
        """Write everything queued so far, in batches of at most MAX_BATCH points;
        ``finish`` (a run's end) is written in the same transaction as the last batch."""
        with self._drain_lock:
            while True:
                params = [self.params.popleft() for _ in range(len(self.params))]
                count = min(len(self.points), MAX_BATCH)
                points = [self.points.popleft() for _ in range(count)]
                last = not (self.points or self.params)
                if not (params or points or (last and finish)):
                    return
                try:
                    self.store.write_batch(params, points, finish if last else None)
                except StoreError:
                    self.params.extendleft(reversed(params))
                    self.points.extendleft(reversed(points))
                    raise
                except ParamConflictError:
                    self._write_apart(params, points, finish if last else None)
                if last:
                    return

    def _write_apart(self, params: list[Param], points: list[Point], finish: Finish | None) -> None:
        """A param another process set differently must not cost the metrics of its
        batch: store the points, then each param alone, and report the conflict."""
        self.store.write_batch([], points, finish)
        conflict: ParamConflictError | None = None
        for param in params:
            try:
                self.store.write_batch([param], [])
            except ParamConflictError as error:
                conflict = conflict or error
        if conflict is not None:
            raise conflict

    def finish(self, finish: Finish) -> None:
        """Store everything queued and the end of a run, in as few transactions as possible."""
        self.drain(finish)

    def flush(self) -> None:
        """Block until everything logged before this call is stored."""
        failure, self._failure = self._failure, None
        self.drain()
        if failure is not None and not isinstance(failure, StoreError):
            raise failure

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_writers):
        try:
            writer.close()
        except Exception as error:  # exit must go on; say what was lost
            print(f"prodml: could not store buffered metrics at exit: {error}")
