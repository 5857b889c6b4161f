"""Turns at writing one SQLite file, across the processes of this machine.

SQLite lets one writer in at a time and makes the others wait in its busy
handler, which sleeps 1, 2, 5, 10 ... up to 100 ms between tries: with several
processes each writing small transactions (a run's start, a run's end), a waiting
process sleeps long past the moment the file is free. Here a writer first takes an
exclusive ``flock`` on ``<db>.write.lock``, trying again after 0.1 ms, then twice as
long each time up to 2 ms, and only then begins its transaction. SQLite still
guards the file: a writer that does not take turns (the ``sqlite3`` shell, an older
prodml) is waited for by the busy timeout as before.

Waiting for a turn is bounded by the same busy timeout, then ``StoreBusyError``
(which says to retry). The lock belongs to the open file, so a forked child opens
its own; the kernel drops it when its holder exits, however it exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from prodml.errors import StoreBusyError

_FIRST_PAUSE = 0.0001  # seconds between tries while another process writes
_LONGEST_PAUSE = 0.002


class WriteTurns:
    def __init__(self, database: str, busy_timeout: float) -> None:
        self.path = f"{database}.write.lock"
        self.busy_timeout = busy_timeout
        self._descriptor: int | None = None
        self._pid = 0

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold this process's turn at writing for the block (threads take turns
        before they get here)."""
        descriptor = self._open()
        self._take(descriptor)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)

    def _open(self) -> int:
        if self._descriptor is None or self._pid != os.getpid():
            self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._pid = os.getpid()
        return self._descriptor

    def _take(self, descriptor: int) -> None:
        deadline, pause = time.monotonic() + self.busy_timeout, _FIRST_PAUSE
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusyError(
                        f"Another process kept writing {self.path[: -len('.write.lock')]} for"
                        f" {self.busy_timeout:g} s. Retry, or raise PRODML_BUSY_TIMEOUT."
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)

    def close(self) -> None:
        if self._descriptor is not None and self._pid == os.getpid():
            os.close(self._descriptor)
        self._descriptor = None
