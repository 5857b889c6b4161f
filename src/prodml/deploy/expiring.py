"""A small thread-safe cache whose entries expire and whose size is bounded: the
least recently used entry goes first. Anything that answers repeated questions
from untrusted input (a token, say) must not grow with that input."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")


class Expiring(Generic[Key, Value]):
    def __init__(
        self, size: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self._entries: OrderedDict[Key, tuple[float, Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> tuple[bool, Value | None]:
        """``(True, value)`` for a live entry, ``(False, None)`` otherwise."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return False, None
            if self.clock() - found[0] >= self.seconds:
                del self._entries[key]
                return False, None
            self._entries.move_to_end(key)
            return True, found[1]

    def put(self, key: Key, value: Value) -> None:
        with self._lock:
            self._entries[key] = (self.clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, keep: Callable[[Key, Value], bool]) -> None:
        """Forget every entry ``keep`` says no to."""
        with self._lock:
            for key in [k for k, (_, v) in self._entries.items() if not keep(k, v)]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
