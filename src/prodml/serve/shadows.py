"""Shadow predictions, never holding the served rows back from the log.

Rows a shadow version should see wait here; each version runs one batch at a time
(``Served.shadow``: on the version's shadow thread, within its timeout), over every
row that waited while the batch before it ran, so a slow shadow predicts bigger
batches rather than falling behind request by request. A batch that answers while
the recorder or the writer still holds its rows (a short wait, ``claim``, then until
the next flush) is written with them; one that answers later is handed to the log
as a shadow segment, joined to the served rows by ``row_id``. At most ``max_rows``
rows wait; past that a row is not shadowed (counted in ``skipped``), so a stuck
shadow costs memory only up to the bound."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prodml.predictions.rows import LogRows
from prodml.predictions.writer import SegmentWriter
from prodml.serve.inputs import Rejected
from prodml.serve.served import Served

Answers = tuple[list[Any], np.ndarray, str | None]
CALLERS = 4  # threads waiting on shadow versions at once (each waits at most its timeout)


@dataclass
class Batch:
    """Rows of one model for one shadow version, and, once it answered, the answers
    as log rows (until the recorder claims them, or they go to the log)."""

    shadow: Served
    model: str
    row_ids: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)
    work: Future[Answers] | None = None
    answer: LogRows | None = None
    claimed: bool = False


class Shadows:
    def __init__(self, writer: SegmentWriter, max_rows: int) -> None:
        self.writer = writer
        self.max_rows = max_rows
        self.skipped = 0
        self.held = 0  # rows waiting or being predicted
        self._waiting: dict[tuple[str, str], Batch] = {}
        self._running: dict[tuple[str, str], Batch] = {}
        self._lock = threading.Lock()
        self._callers = ThreadPoolExecutor(CALLERS, thread_name_prefix="prodml-shadows")

    def add(
        self, shadow: Served, model: str, row_ids: list[str], at: float, rows: list[Any]
    ) -> None:
        with self._lock:
            if self.held + len(rows) > self.max_rows:
                self.skipped += len(rows)
                return
            self.held += len(rows)
        key = (model, shadow.version.id)
        batch = self._waiting.setdefault(key, Batch(shadow, model))
        batch.row_ids.extend(row_ids)
        batch.times.extend([at] * len(rows))
        batch.rows.extend(rows)

    def dispatch(self) -> list[Batch]:
        """Start a batch for each version whose last one has finished."""
        started = []
        for key in list(self._waiting):
            running = self._running.get(key)
            if running is not None and running.work is not None and not running.work.done():
                continue
            batch = self._waiting.pop(key)
            if batch.rows:
                self._running[key] = batch
                self._start(batch)
                started.append(batch)
        return started

    def wait(self, batches: list[Batch], seconds: float) -> None:
        running = [b.work for b in batches if b.work is not None]
        if running and seconds > 0:
            wait(running, timeout=seconds)

    def claim(self, batch: Batch) -> LogRows | None:
        """The batch's answers if they came, for the caller to write; else they go to
        the log by themselves when they come."""
        with self._lock:
            batch.claimed = True
            answer, batch.answer = batch.answer, None
        return answer

    def _start(self, batch: Batch) -> None:
        refused: dict[int, str] = {}
        for position, row in enumerate(batch.rows):
            try:
                batch.shadow.spec.check_row(row, position)
            except Rejected as refusal:
                refused[position] = str(refusal)
        accepted = [row for position, row in enumerate(batch.rows) if position not in refused]
        if not accepted:
            self._answered(batch, refused, None)
            return
        try:
            batch.work = self._callers.submit(batch.shadow.shadow, accepted)
        except RuntimeError as stopped:  # closing
            self._answered(batch, refused, _failed(len(accepted), stopped))
            return
        count = len(accepted)
        batch.work.add_done_callback(
            lambda done: self._answered(batch, refused, _result(done, count))
        )

    def _answered(self, batch: Batch, refused: dict[int, str], answers: Answers | None) -> None:
        try:
            rows = _logged(batch, refused, answers)
            with self._lock:
                late = batch.claimed
                if not late:
                    batch.answer = rows
            if late:
                self.writer.shadowed(rows)
        finally:
            with self._lock:
                self.held -= len(batch.rows)

    def settle(self, seconds: float) -> None:
        """Run what waits and wait for the running batches, for at most ``seconds``;
        their answers go to the log."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for batch in self.dispatch():
                answer = self.claim(batch)
                if answer is not None:
                    self.writer.shadowed(answer)
            running = [b for b in self._running.values() if b.work and not b.work.done()]
            if not running and not self._waiting:
                return
            self.wait(running, max(0.0, min(0.2, deadline - time.monotonic())))

    def close(self) -> None:
        self._callers.shutdown(wait=False, cancel_futures=True)


def _logged(batch: Batch, refused: dict[int, str], answers: Answers | None) -> LogRows:
    """The shadow's answer (or why it gave none) for each row of the batch."""
    outputs: list[Any] = [None] * len(batch.rows)
    errors: list[str | None] = [refused.get(position) for position in range(len(batch.rows))]
    if answers is not None:
        values, failed, error = answers
        accepted = [p for p in range(len(batch.rows)) if p not in refused]
        for position, value, bad in zip(accepted, values, failed, strict=True):
            outputs[position] = None if bad else value
            errors[position] = (error or "failed") if bad else None
    rows = LogRows(batch.model, None)
    rows.add_shadowed(batch.row_ids, batch.times, batch.shadow.number, outputs, errors)
    return rows


def _result(done: Future[Answers], count: int) -> Answers:
    try:
        values, failed, error = done.result()
    except Exception as problem:  # a shadow must never take the log down
        return _failed(count, problem)
    if len(values) != count or len(failed) != count:
        return _failed(count, ValueError("the shadow gave a wrong number of answers"))
    return values, failed, error


def _failed(count: int, problem: BaseException) -> Answers:
    return [None] * count, np.ones(count, bool), f"{type(problem).__name__}: {problem}"
