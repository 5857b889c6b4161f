"""SQLite's WAL checkpoint, off the writers' path.

In WAL mode each commit appends pages to ``<db>-wal``; a checkpoint copies them
back into the database file and syncs both, so that the WAL can start over. By
default SQLite does it inside whichever commit passes 1,000 pages, so one run in
every dozen or so paid for everybody's pages. Here the writer's connections only
checkpoint past ``LAST_RESORT_PAGES`` (when nothing else did); a thread of the
store checkpoints (PASSIVE: it never waits for, nor blocks, readers or writers)
each time the WAL has grown past ``WAL_BYTES``, looked at every ``EVERY`` commits.
Durability is unchanged: a commit is in the WAL, which survives a crash of the
program either way (``synchronous=NORMAL``); the checkpoint only moves pages.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading

LAST_RESORT_PAGES = 10_000  # the writers' own autocheckpoint: 40 MB of 4 KiB pages
WAL_BYTES = 4 * 1024 * 1024  # SQLite's default threshold, 1,000 pages of 4 KiB
EVERY = 16  # commits between looks at the WAL's size


class Checkpointer:
    """A daemon thread that checkpoints one SQLite database when its WAL is large."""

    def __init__(self, database: str, busy_timeout: float) -> None:
        self.database = database
        self.wal = f"{database}-wal"
        self.busy_timeout = busy_timeout
        self._commits = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def committed(self) -> None:
        """Called after each commit of this process; cheap: a count, now and then a stat."""
        self._commits += 1
        if self._commits % EVERY:
            return
        try:
            large = os.stat(self.wal).st_size > WAL_BYTES
        except OSError:
            return
        if large:
            self._start()
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(
                    target=self._loop, name="prodml-checkpoint", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        connection = sqlite3.connect(self.database, timeout=self.busy_timeout)
        try:
            while not self._stop:
                self._wake.wait()
                self._wake.clear()
                if not self._stop:
                    self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        # a checkpoint that cannot run now runs at the next look, or in a commit
        with contextlib.suppress(sqlite3.Error):
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def after_fork(self) -> None:
        """In a forked child: the parent's thread is not here; start one when needed."""
        self._thread, self._lock, self._wake = None, threading.Lock(), threading.Event()
