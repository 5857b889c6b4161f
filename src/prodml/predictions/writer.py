"""The prediction log's writer: rows buffered in memory, written off the response
path by a background thread every ``flush_interval`` seconds (or as soon as one
model has ``max_rows`` waiting), one segment per model and input layout.

Nothing a request holds can stop the log. A row whose value does not convert to its
column's type goes to the quarantine with the reason and the rest of its segment is
written; a segment that cannot be written is quarantined whole; the thread survives
any exception. The buffer holds at most ``max_buffered`` rows: past that the newest
rows are dropped (the buffered ones are closer to being safe on disk) and counted.
:meth:`SegmentWriter.health` reports every count."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml.predictions.rows import LogRows
from prodml.predictions.segments import write_quarantine, write_segment
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

MAX_BUFFERED = 200_000


@dataclass
class Counts:
    written: int = 0  # rows now in segments
    quarantined: int = 0  # rows kept in the quarantine instead
    dropped: int = 0  # rows lost: the buffer was full, or not even the quarantine took them
    failures: int = 0  # segments that could not be written
    last_error: str | None = None


class SegmentWriter:
    """Buffers rows per model and layout and writes them from a background thread."""

    def __init__(
        self,
        log: LogFiles | Path,
        flush_interval: float = 1.0,
        max_rows: int = 50_000,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self.files = open_log_files(log)
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self.max_buffered = max_buffered
        self.counts = Counts()
        self.buffered = 0
        self._pending: dict[tuple[str, str, str], LogRows] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="prodml-log", daemon=True)
        self._thread.start()

    @property
    def written(self) -> int:
        return self.counts.written

    @property
    def failures(self) -> int:
        return self.counts.failures

    def append(self, rows: LogRows) -> bool:
        """Buffer ``rows`` for their segment; False when the buffer had no room and
        they were dropped (and counted)."""
        if not len(rows):
            return True
        layout = "" if rows.layout is None else rows.layout.key
        key = (rows.model, rows.kind, layout)
        with self._lock:
            if self.buffered + len(rows) > self.max_buffered:
                self.counts.dropped += len(rows)
                return False
            self.buffered += len(rows)
            waiting = self._pending.get(key)
            if waiting is None:
                self._pending[key] = waiting = LogRows(rows.model, rows.layout)
            waiting.extend(rows)
            full = len(waiting) >= self.max_rows
        if full:
            self._wake.set()
        return True

    def shadowed(self, answers: LogRows) -> None:
        """Shadow answers: written into the buffered served rows awaiting them, the
        rest as a shadow segment (their served rows were written already)."""
        with self._lock:
            for (model, kind, _), rows in self._pending.items():
                if model == answers.model and not kind and rows.awaiting:
                    answers = rows.fill(answers)
        self.append(answers)

    def health(self) -> dict[str, Any]:
        """Counts since start: ``written``, ``quarantined``, ``dropped`` rows,
        ``failures`` (segments not written), ``last_error``, ``buffered`` rows and
        whether the writing thread is ``alive``."""
        with self._lock:
            counts = self.counts
            return {
                "written": counts.written,
                "quarantined": counts.quarantined,
                "dropped": counts.dropped,
                "failures": counts.failures,
                "last_error": counts.last_error,
                "buffered": self.buffered,
                "alive": self._thread.is_alive(),
            }

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                pending, self._pending = self._pending, {}
            for rows in pending.values():
                try:
                    self._write(rows)
                except Exception as problem:  # the log must outlive any row
                    self._lost(len(rows), f"{type(problem).__name__}: {problem}")
                finally:
                    with self._lock:
                        self.buffered -= len(rows)

    def _write(self, rows: LogRows) -> None:
        try:
            table, bad = rows.table()
        except Exception as problem:  # quarantined whole instead
            self._quarantine(rows, dict.fromkeys(range(len(rows)), _named(problem)))
            return
        if bad:
            self._quarantine(rows, bad)
        if not table.num_rows:
            return
        at = None if rows.layout is not None else rows.times[0]
        try:
            write_segment(self.files, rows.model, table, rows.kind, at)
        except Exception as problem:  # the rows go to the quarantine
            message = _named(problem)
            with self._lock:
                self.counts.failures += 1
                self.counts.last_error = message
            _warn(f"prodml: could not write {table.num_rows} logged predictions: {message}")
            good = [index for index in range(len(rows)) if index not in bad]
            self._quarantine(rows, dict.fromkeys(good, message))
            return
        with self._lock:
            self.counts.written += table.num_rows

    def _quarantine(self, rows: LogRows, bad: dict[int, str]) -> None:
        try:
            raw = [rows.raw(index) for index in bad]
            write_quarantine(self.files, rows.model, raw, list(bad.values()))
        except Exception as problem:  # counted as lost
            self._lost(len(bad), _named(problem))
            return
        first = next(iter(bad.values()))
        with self._lock:
            self.counts.quarantined += len(bad)
            self.counts.last_error = first
        _warn(f"prodml: {len(bad)} logged prediction(s) of {rows.model} quarantined: {first}")

    def _lost(self, count: int, message: str) -> None:
        with self._lock:
            self.counts.dropped += count
            self.counts.last_error = message
        _warn(f"prodml: lost {count} logged predictions: {message}")

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as problem:  # the thread must not die
                _warn(f"prodml: the prediction log writer failed: {_named(problem)}")

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()


def _named(problem: BaseException) -> str:
    return f"{type(problem).__name__}: {problem}"


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
