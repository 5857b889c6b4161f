"""The background writer: params and metric points are appended to in-memory
queues by the caller and written in one transaction per batch by a thread.

Durability points: ``flush()`` (also called at run end, on an exception inside
a run, and at interpreter exit). Between them, at most one flush interval
(``PRODML_FLUSH_INTERVAL``, 0.5 s by default) of points is held in memory.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections import deque

from prodml.errors import ProdmlError, RowsRefusedError, StoreError
from prodml.stores.protocol import MetadataStore
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
                self._keep(error)

    def _keep(self, error: Exception) -> None:
        """Hold a failure for the next flush; a refusal is never replaced by a store
        error, which only says to retry."""
        if self._failure is None or isinstance(self._failure, StoreError):
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
                    self._requeue(params, points)
                    raise
                except Exception:  # one run's bad rows must not cost the others theirs
                    self._write_apart(params, points, finish if last else None)
                if last:
                    return

    def _requeue(self, params: list[Param], points: list[Point]) -> None:
        """Put rows back at the front of the queues, in their order, for the next drain."""
        self.params.extendleft(reversed(params))
        self.points.extendleft(reversed(points))

    def _write_apart(self, params: list[Param], points: list[Point], finish: Finish | None) -> None:
        """Write each run's rows on their own, so that one run's bad rows (a param that
        another process set differently, a value the database refuses) cost no other
        run anything; within a run the points go first, then each param alone. Rows
        the database refuses are reported at the next flush, not retried forever; when
        the store fails (busy, unreachable), every row not yet written is queued again."""
        pending = _Pending(params, points, finish)
        refusals: list[Exception] = []
        try:
            for run_id in pending.runs:
                own_finish = finish if finish is not None and finish[0] == run_id else None
                self._write_run(run_id, pending, own_finish, refusals)
        except StoreError:
            self._requeue(*pending.rows())
            if refusals:
                self._keep(refusals[0])
            raise
        if refusals:
            raise refusals[0]

    def _write_run(
        self, run_id: str, pending: _Pending, finish: Finish | None, refusals: list[Exception]
    ) -> None:
        """Write one run's points (with its end), then its params one at a time; each row
        leaves ``pending`` once stored or refused."""
        own_points = pending.points[run_id]
        try:
            if own_points or finish is not None:
                self.store.write_batch([], own_points, finish)
        except StoreError:
            raise
        except Exception as error:
            refusals.append(_lost(run_id, len(own_points), error))
        pending.points[run_id] = []
        own_params = pending.params[run_id]
        while own_params:
            try:
                self.store.write_batch([own_params[0]], [])
            except StoreError:
                raise
            except Exception as error:
                refusals.append(error)
            own_params.popleft()

    def finish(self, finish: Finish) -> None:
        """Store everything queued and the end of a run, in as few transactions as possible."""
        self.drain(finish)

    def flush(self) -> None:
        """Block until everything logged before this call is stored; raise what a
        background write had refused since the last flush."""
        self.drain()
        failure, self._failure = self._failure, None
        if failure is not None and not isinstance(failure, StoreError):
            raise failure

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()


def _after_fork_in_child() -> None:
    """A forked child inherits the parent's queues but not its thread: drop both, so
    the child never writes the parent's points twice."""
    for writer in list(_writers):
        writer.points, writer.params = deque(), deque()
        writer._stop = True
        writer._drain_lock = threading.Lock()
    _writers.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Pending:
    """The rows of a batch not yet stored or refused, by run in the order they came."""

    def __init__(self, params: list[Param], points: list[Point], finish: Finish | None) -> None:
        ended = [finish[0]] if finish is not None else []
        self.runs = list(dict.fromkeys([p[0] for p in points] + [p[0] for p in params] + ended))
        self.points: dict[str, list[Point]] = {run_id: [] for run_id in self.runs}
        self.params: dict[str, deque[Param]] = {run_id: deque() for run_id in self.runs}
        for point in points:
            self.points[point[0]].append(point)
        for param in params:
            self.params[param[0]].append(param)

    def rows(self) -> tuple[list[Param], list[Point]]:
        params = [param for rows in self.params.values() for param in rows]
        return params, [point for rows in self.points.values() for point in rows]


def _lost(run_id: str, count: int, error: Exception) -> Exception:
    if isinstance(error, ProdmlError):
        return error
    return RowsRefusedError(
        f"The store refused {count} metric point(s) of run {run_id[:12]}: {error}. "
        "Other runs' points were stored."
    )


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_writers):
        try:
            writer.close()
        except Exception as error:  # exit must go on; say what was lost
            print(f"prodml: could not store buffered metrics at exit: {error}")
