"""Off the response path: shadow predictions and the prediction log.

The request path hands each answered request to :meth:`Recorder.add` (an append to
a list). A background thread wakes every ``interval`` seconds, runs each shadow
version once over all the requests it shadows, pairs its answers with the served
ones by request, and appends the rows to the segment writer, which writes a
Parquet segment every ``flush_interval`` seconds. A kill -9 loses at most the rows
of the last ``interval + flush_interval`` seconds."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from prodml.predictions.segments import SegmentWriter
from prodml.serve.inputs import Rejected
from prodml.serve.served import Served


@dataclass
class Entry:
    """One answered request, waiting for its shadow and the log."""

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
    def __init__(self, folder: Path, flush_interval: float, interval: float = 0.2) -> None:
        self.writer = SegmentWriter(folder, flush_interval)
        self.interval = interval
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="prodml-shadow", daemon=True)
        self._thread.start()

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.drain()

    def drain(self) -> None:
        with self._lock:
            entries, self._entries = self._entries, []
        if not entries:
            return
        shadows = _shadow_answers(entries)
        by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for index, entry in enumerate(entries):
            by_model[entry.model].extend(_rows(entry, shadows.get(index)))
        for model, rows in by_model.items():
            self.writer.append(model, rows)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.drain()
        self.writer.close()


def _shadow_answers(entries: list[Entry]) -> dict[int, tuple[list[Any], list[str | None]]]:
    """For each shadowed entry: the shadow's answers and per-row errors."""
    groups: dict[str, list[int]] = defaultdict(list)
    versions: dict[str, Served] = {}
    for index, entry in enumerate(entries):
        if entry.shadow is not None:
            groups[entry.shadow.version.id].append(index)
            versions[entry.shadow.version.id] = entry.shadow
    found: dict[int, tuple[list[Any], list[str | None]]] = {}
    for key, indexes in groups.items():
        shadow = versions[key]
        rows: list[Any] = []
        accepted: list[tuple[int, int]] = []  # (entry, row) pairs the shadow can read
        errors: dict[tuple[int, int], str] = {}
        for index in indexes:
            for position, row in enumerate(entries[index].rows):
                try:
                    shadow.spec.check_row(row, position)
                except Rejected as refusal:
                    errors[(index, position)] = str(refusal)
                    continue
                rows.append(row)
                accepted.append((index, position))
        answers, failed, error = _predict(shadow, rows)
        for (index, position), answer, bad in zip(accepted, answers, failed, strict=True):
            if bad:
                errors[(index, position)] = error or "failed"
            found.setdefault(
                index, ([None] * len(entries[index].rows), [None] * len(entries[index].rows))
            )
            found[index][0][position] = None if bad else answer
        for (index, position), message in errors.items():
            found.setdefault(
                index, ([None] * len(entries[index].rows), [None] * len(entries[index].rows))
            )
            found[index][1][position] = message
    return found


def _blank(
    found: dict[int, tuple[list[Any], list[str | None]]], index: int, rows: int
) -> tuple[list[Any], list[str | None]]:
    return found.setdefault(index, ([None] * rows, [None] * rows))


def _predict(shadow: Served, rows: list[Any]) -> tuple[list[Any], np.ndarray, str | None]:
    if not rows:
        return [], np.zeros(0, bool), None
    try:
        return shadow.shadow_executor.submit(shadow.predict_now, rows).result(
            timeout=shadow.timeout * 10
        )
    except Exception as problem:  # a shadow must never take the gateway down
        return [None] * len(rows), np.ones(len(rows), bool), f"{type(problem).__name__}: {problem}"


def _rows(entry: Entry, shadow: tuple[list[Any], list[str | None]] | None) -> list[dict[str, Any]]:
    many = len(entry.rows) > 1
    at = datetime.fromtimestamp(entry.ts, UTC)
    answered = entry.answered_by
    records = []
    for position, row in enumerate(entry.rows):
        records.append(
            {
                "request_id": f"{entry.request_id}/{position}" if many else entry.request_id,
                "ts": at,
                "model": entry.model,
                "version": None if answered is None else answered.number,
                "assigned": entry.served.number,
                "variant": entry.variant,
                "rollout_id": entry.rollout_id,
                "step": entry.step,
                "routing_key": entry.routing_key,
                "status": "ok" if entry.error is None else "error",
                "error": entry.error,
                "fallback": entry.fallback,
                "latency_ms": entry.latency_ms,
                "output": entry.answers[position] if position < len(entry.answers) else None,
                "shadow_version": None if entry.shadow is None else entry.shadow.number,
                "shadow_output": None if shadow is None else shadow[0][position],
                "shadow_error": None if shadow is None else shadow[1][position],
                "inputs": entry.served.spec.logged(row),
            }
        )
    return records
