"""Refused access, counted rather than logged one by one: at most one
``auth.refused`` event per source and action per minute, each carrying how many
refusals it stands for, so a flood of guessed tokens costs a few writes to the
store instead of one write (under its write lock) per guess.

A source is a known token's name, ``no token``, or ``unknown token`` for every
token the store does not know (with a few digest prefixes as examples: one
prefix seen many times is a stale token, many prefixes are guessing). The first
refusal of a minute is written at once; the rest of that minute are written once
the minute is over, at the next token check in this process, or at exit."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prodml.client import Client
from prodml.domain.ids import from_epoch
from prodml.errors import ProdmlError

MINUTE = 60.0
EXAMPLES = 3  # digest prefixes kept per event


@dataclass
class Tally:
    client: Client
    role: str
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    examples: list[str] = field(default_factory=list)
    written_minute: int = -1

    def add(self, now: float, example: str | None, count: int = 1) -> None:
        self.first = now if not self.count else min(self.first, now)
        self.last = max(self.last, now)
        self.count += count
        if example and example not in self.examples and len(self.examples) < EXAMPLES:
            self.examples.append(example)


Key = tuple[str, str, str]  # store, source, action


@dataclass(frozen=True)
class Due:
    key: Key
    tally: Tally


class Refusals:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._tallies: dict[Key, Tally] = {}
        self._due = math.inf  # when the earliest held count may be written
        self._lock = threading.Lock()

    def count(
        self, client: Client, action: str, role: str, source: str, example: str | None
    ) -> None:
        """Count one refusal; written now if its source has no event this minute."""
        now = self.clock()
        minute = _minute(now)
        with self._lock:
            key = (client.settings.metadata_url, source, action)
            tally = self._tallies.setdefault(key, Tally(client, role))
            tally.client = client
            tally.add(now, example)
            held = tally.written_minute == minute
            if held:
                self._due = min(self._due, (minute + 1) * MINUTE)
        if not held:
            self._write(minute, every=False)

    def write_due(self) -> None:
        """Write the counts held since a minute that is now over (cheap when none is)."""
        now = self.clock()
        if now >= self._due:
            self._write(_minute(now), every=False)

    def flush(self) -> None:
        """Write every held count now (at exit, or before reading the events)."""
        self._write(_minute(self.clock()), every=True)

    def _write(self, minute: int, every: bool) -> None:
        with self._lock:
            due = [
                Due(key, _take(tally, minute))
                for key, tally in self._tallies.items()
                if tally.count and (every or tally.written_minute != minute)
            ]
            self._tallies = {
                key: tally
                for key, tally in self._tallies.items()
                if tally.count or tally.written_minute == minute
            }
            self._due = self._next_due(minute)
        for one in due:
            try:
                _record(one)
            except ProdmlError:  # the store is busy or gone: keep the count for a later minute
                self._keep(one, minute)

    def _next_due(self, minute: int) -> float:
        held = any(tally.count for tally in self._tallies.values())
        return (minute + 1) * MINUTE if held else math.inf

    def _keep(self, unwritten: Due, minute: int) -> None:
        with self._lock:
            tally = unwritten.tally
            kept = self._tallies.setdefault(unwritten.key, Tally(tally.client, tally.role))
            kept.add(tally.first, None, tally.count)
            kept.last = max(kept.last, tally.last)
            kept.written_minute = minute
            self._due = self._next_due(minute)


def _minute(now: float) -> int:
    return math.floor(now / MINUTE)


def _take(tally: Tally, minute: int) -> Tally:
    """A copy of the held count, which starts again from zero."""
    taken = Tally(tally.client, tally.role, tally.count, tally.first, tally.last, tally.examples)
    tally.count, tally.examples, tally.written_minute = 0, [], minute
    return taken


def _record(due: Due) -> None:
    _, source, action = due.key
    tally = due.tally
    details: dict[str, object] = {
        "token": source,
        "count": tally.count,
        "first": from_epoch(tally.first).isoformat(),
        "last": from_epoch(tally.last).isoformat(),
    }
    if tally.examples:
        details["examples"] = tally.examples
    tally.client.metadata.record_event(
        "auth.refused", ("action", action), f"needs a {tally.role} token", details
    )
