"""Off the response path: the prediction log and shadow predictions.

The request path hands each answered request to :meth:`Recorder.add` (an append to
a list). A background thread wakes every ``interval`` seconds, starts the shadow
batches for the rows it took, waits for them at most ``shadow_wait`` seconds, and
hands the served rows to the segment writer, as columns, each row with a ``row_id``
of the gateway's own (the client's request id may repeat) and with the shadow's
answer when it came in that time; later answers follow as shadow segments. The
writer puts rows on disk every ``flush_interval`` seconds. So a slow shadow never
holds served rows back: a kill -9 loses at most the served rows of the last
``interval + shadow_wait + flush_interval`` seconds (1.2 s by default), and the
shadow answers still being computed. At most ``max_buffered`` rows wait in memory;
past that the newest requests are not logged, and are counted."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml.predictions.layout import InputLayout, input_layout
from prodml.predictions.rows import LogRows
from prodml.predictions.writer import MAX_BUFFERED, SegmentWriter
from prodml.serve.served import Served
from prodml.serve.shadows import Shadows
from prodml.stores.log_files import LogFiles

CLOSE_WAIT = 10.0  # seconds a closing gateway waits for shadow batches still running


@dataclass
class Entry:
    """One answered request, waiting for the log and its shadow."""

    model: str
    request_id: str
    ts: float
    rows: list[Any]
    answers: list[Any]
    served: Served  # the version assigned by routing
    answered_by: Served | None  # the version whose answers were returned
    shadow: Served | None
    variant: str
    rollout_id: str | None
    step: int | None
    routing_key: str | None
    latency_ms: float
    error: str | None
    fallback: str | None


class Recorder:
    def __init__(
        self,
        folder: LogFiles | Path,
        flush_interval: float,
        interval: float = 0.1,
        max_buffered: int = MAX_BUFFERED,
        shadow_wait: float = 0.1,
    ) -> None:
        self.writer = SegmentWriter(folder, flush_interval, max_buffered=max_buffered)
        self.shadows = Shadows(self.writer, max_buffered)
        self.interval = interval
        self.shadow_wait = shadow_wait
        self.max_buffered = max_buffered
        self.dropped = 0  # rows of requests not logged: the buffer was full
        self.failures = 0  # drains that failed (their requests are counted as dropped)
        self._prefix = uuid.uuid4().hex[:16]  # row ids: this process's prefix, then a count
        self._next = 0
        self._layouts: dict[str, InputLayout] = {}
        self._entries: list[Entry] = []
        self._queued = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="prodml-recorder", daemon=True)
        self._thread.start()

    def add(self, entry: Entry) -> None:
        size = len(entry.rows)
        with self._lock:
            if self._queued + self.writer.buffered + size > self.max_buffered:
                self.dropped += size
                return
            self._entries.append(entry)
            self._queued += size

    def health(self) -> dict[str, Any]:
        """The writer's counts (see :meth:`SegmentWriter.health`), with ``dropped``
        and ``buffered`` covering the requests not yet handed to it, and the shadows':
        ``shadow_waiting`` rows and ``shadow_skipped`` rows (never shadowed: too many
        waited)."""
        found = self.writer.health()
        with self._lock:
            found["dropped"] += self.dropped
            found["buffered"] += self._queued
            found["alive"] = found["alive"] and self._thread.is_alive()
        found["shadow_waiting"] = self.shadows.held
        found["shadow_skipped"] = self.shadows.skipped
        return found

    def _loop(self) -> None:
        due = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            due += self.interval  # at a steady rate, the shadow wait included
            self.drain()
            due = max(due, time.monotonic())

    def drain(self) -> None:
        with self._lock:
            entries, self._entries = self._entries, []
        try:
            batches = self._record(entries)
        except Exception:  # the recorder must outlive any request
            batches = {}
            with self._lock:
                self.dropped += sum(len(entry.rows) for entry in entries)
                self.failures += 1
        started = self.shadows.dispatch()
        self.shadows.wait(started, self.shadow_wait)
        for batch in started:
            answers = self.shadows.claim(batch)
            if answers is None:
                continue  # the writer takes them when they come
            for rows in batches.values():
                if rows.model == answers.model:
                    answers = rows.fill(answers)
            self.writer.shadowed(answers)  # into rows the writer holds, or a segment
        for rows in batches.values():
            self.writer.append(rows)
        with self._lock:
            self._queued -= sum(len(entry.rows) for entry in entries)

    def _record(self, entries: list[Entry]) -> dict[tuple[str, str], LogRows]:
        """The entries' rows as log rows, one batch per model and version; built a
        column at a time, since this runs for every request the gateway answers."""
        groups: dict[tuple[str, str], list[Entry]] = {}
        for entry in entries:
            groups.setdefault((entry.model, entry.served.version.id), []).append(entry)
        batches: dict[tuple[str, str], LogRows] = {}
        for (model, key), group in groups.items():
            rows = batches[(model, key)] = LogRows(model, self._layout(group[0].served))
            sizes = [len(entry.rows) for entry in group]
            first, self._next = self._next, self._next + sum(sizes)
            row_ids = [f"{self._prefix}{n:016x}" for n in range(first, self._next)]
            if len(row_ids) == len(group):  # one row per request: the usual case
                rows.add_requests(
                    [_request(entry) for entry in group],
                    sizes,
                    row_ids,
                    [entry.request_id for entry in group],
                    [entry.answers[0] if entry.answers else None for entry in group],
                    [entry.rows[0] for entry in group],
                )
            else:
                self._add_each(rows, group, row_ids)
            start = 0
            for entry, size in zip(group, sizes, strict=True):
                if entry.shadow is not None:
                    mine = row_ids[start : start + size]
                    rows.await_shadow(mine, len(rows) - len(row_ids) + start)
                    self.shadows.add(entry.shadow, model, mine, entry.ts, entry.rows)
                start += size
        return batches

    def _add_each(self, rows: LogRows, group: list[Entry], row_ids: list[str]) -> None:
        start = 0
        for entry in group:
            mine = row_ids[start : start + len(entry.rows)]
            rows.add_requests(
                [_request(entry)],
                [len(entry.rows)],
                mine,
                _ids(entry),
                _outputs(entry),
                entry.rows,
            )
            start += len(entry.rows)

    def _layout(self, served: Served) -> InputLayout:
        key = served.version.id
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = input_layout(key, served.version.signature)
        return layout

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.drain()
        self.shadows.settle(CLOSE_WAIT)
        self.shadows.close()
        self.writer.close()


def _request(entry: Entry) -> tuple[Any, ...]:
    """The entry's values of the log's request columns, ``ts`` to ``latency_ms``."""
    answered = entry.answered_by
    return (
        float(entry.ts),
        entry.model,
        None if answered is None else answered.number,
        entry.served.number,
        entry.variant,
        entry.rollout_id,
        entry.step,
        entry.routing_key,
        "ok" if entry.error is None else "error",
        entry.error,
        entry.fallback,
        entry.latency_ms,
    )


def _ids(entry: Entry) -> list[str]:
    """Row *i* of a multi-row request is logged as ``<request_id>/<i>``."""
    if len(entry.rows) == 1:
        return [entry.request_id]
    return [f"{entry.request_id}/{position}" for position in range(len(entry.rows))]


def _outputs(entry: Entry) -> list[Any]:
    answers = entry.answers
    if len(answers) == len(entry.rows):
        return answers
    return [answers[i] if i < len(answers) else None for i in range(len(entry.rows))]
