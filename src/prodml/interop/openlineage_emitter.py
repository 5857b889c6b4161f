"""OpenLineage events sent as they happen, to the setting ``openlineage_url``, from
the moment :func:`prodml.emit_openlineage` starts the emitter of a client.

Where the hook sits: every change OpenLineage has a word for (a run starts or ends,
a dataset version, validation or model version is logged) is written together with
an entry of prodml's event log, in one transaction. The emitter listens on the
metadata store's engine (SQLAlchemy's connection and pool events): it notes each
entry a transaction inserts and, once the transaction has committed and its
connection is back in the pool, hands those entries over. So the packages that
write (``track``, ``data``) know nothing of OpenLineage and import nothing above
them: this package, above them in the order, attaches itself to the client's store
from above. Only committed changes are sent, and only this process's (each process
that writes sends its own).

Nothing here blocks or fails a run. Noting an entry is an append to a list; handing
it over is a put without waiting on a bounded queue (full: the entry is dropped and
counted). A background thread reads what each entry needs, builds its events
(:mod:`prodml.interop.openlineage_source`, as the export does) and posts them with
the client's HTTP transport, with a timeout and no retries; an event the server does
not take is dropped and counted. :meth:`OpenLineageEmitter.health` reports the counts
as the prediction log's writer does; at exit what is queued is sent within a
deadline, and anything lost is said on stderr.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from prodml.client import Client
from prodml.domain.ids import from_epoch
from prodml.domain.lineage import Event
from prodml.errors import InvalidInputError
from prodml.interop.openlineage_source import ACTIONS, Source

MAX_QUEUED = 10_000  # entries waiting to be sent; past that they are dropped
TIMEOUT = 2.0  # seconds one POST may take
EXIT_DEADLINE = 5.0  # seconds the queue is given at exit
_NOTED = "prodml_openlineage"  # the entries a transaction inserted, in its connection's info
_COMMITTED = "prodml_openlineage_committed"  # ... and once it committed
_INSERT = "INSERT INTO events"


@dataclass
class Counts:
    sent: int = 0  # events the server took
    dropped: int = 0  # events (or entries) lost: the queue was full, or the server refused
    failures: int = 0  # posts or reads that failed
    last_error: str | None = None


class OpenLineageEmitter:
    """Sends the OpenLineage events of one client's store to ``url`` in the background."""

    def __init__(
        self,
        client: Client,
        url: str,
        timeout: float = TIMEOUT,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        engine = getattr(client.metadata, "engine", None)
        if not isinstance(engine, sa.Engine):
            raise InvalidInputError(
                f"The store {client.metadata.describe()} has no SQL engine to follow; "
                "OpenLineage events can still be exported: prodml lineage export --openlineage."
            )
        try:
            config = HttpConfig(url=url, timeout=timeout, retry={"total": 0})
            self.transport = HttpTransport(config)
        except ValueError:
            raise InvalidInputError(
                f"openlineage_url {url!r} is not a URL events can be posted to; "
                "give http(s)://HOST[:PORT] (PRODML_OPENLINEAGE_URL or prodml.toml)."
            ) from None
        self.url = url
        self.counts = Counts()
        self._source = Source(client)
        self._engine = engine
        self._max_queued = max_queued
        self._lock = threading.Lock()
        self._queue: queue.Queue[Event | None] = queue.Queue(max_queued)
        self._pid = os.getpid()
        self._thread = self._start()
        sa.event.listen(engine, "after_cursor_execute", self._noted)
        sa.event.listen(engine, "commit", self._committed)
        sa.event.listen(engine, "rollback", self._rolled_back)
        sa.event.listen(engine, "checkin", self._checked_in)
        atexit.register(self._at_exit)

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="prodml-openlineage", daemon=True)
        thread.start()
        return thread

    # the hook: on the writer's thread, as cheap as an append

    def _noted(
        self,
        connection: sa.Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if statement.startswith(_INSERT):
            rows = parameters if executemany else [parameters]
            connection.info.setdefault(_NOTED, []).extend(tuple(row) for row in rows)

    def _committed(self, connection: sa.Connection) -> None:
        """Called as the transaction commits, before the database has: the entries wait
        until the connection goes back to the pool, when a reader can see them."""
        noted = connection.info.pop(_NOTED, None)
        if noted:
            connection.info.setdefault(_COMMITTED, []).extend(noted)

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        committed = record.info.pop(_COMMITTED, None) if record is not None else None
        if not committed:
            return
        if os.getpid() != self._pid:  # a forked child sends its own, from a thread of its own
            self._pid, self._queue = os.getpid(), queue.Queue(self._max_queued)
            self._thread = self._start()
        for row in committed:
            if row[2] in ACTIONS:
                self._hand_over(_entry(row))

    def _rolled_back(self, connection: sa.Connection) -> None:
        connection.info.pop(_NOTED, None)

    def _hand_over(self, entry: Event) -> None:
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._lost(1, "the queue of OpenLineage events was full")

    # the sender: a background thread

    def _loop(self) -> None:
        while True:
            entry = self._queue.get()
            try:
                if entry is None:
                    return
                self._send(entry)
            finally:
                self._queue.task_done()

    def _send(self, entry: Event) -> None:
        try:
            events = self._source.translate(entry)
        except Exception as problem:  # the emitter outlives any entry
            self._lost(1, f"reading {entry.action} {entry.subject_id[:12]}: {problem}")
            return
        for event in events:
            try:
                self.transport.emit(event)
            except Exception as problem:
                self._lost(1, f"POST to {self.url}: {problem}")
            else:
                with self._lock:
                    self.counts.sent += 1

    def _lost(self, count: int, error: str) -> None:
        with self._lock:
            self.counts.dropped += count
            self.counts.failures += 1
            self.counts.last_error = error

    # what a caller sees

    def health(self) -> dict[str, Any]:
        """Counts since start: events ``sent``, ``dropped`` (queue full or refused),
        ``failures``, ``last_error``, entries ``queued`` and whether the sending
        thread is ``alive``."""
        with self._lock:
            return {
                "url": self.url,
                "sent": self.counts.sent,
                "dropped": self.counts.dropped,
                "failures": self.counts.failures,
                "last_error": self.counts.last_error,
                "queued": self._queue.unfinished_tasks,
                "alive": self._thread.is_alive(),
            }

    def flush(self, timeout: float = EXIT_DEADLINE) -> bool:
        """Wait (at most ``timeout`` seconds) until every entry handed over is sent or
        counted as dropped; True when none is left."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = EXIT_DEADLINE) -> None:
        """Stop following the store, send what is queued within ``timeout`` and stop."""
        for name, listener in (
            ("after_cursor_execute", self._noted),
            ("commit", self._committed),
            ("rollback", self._rolled_back),
            ("checkin", self._checked_in),
        ):
            if sa.event.contains(self._engine, name, listener):
                sa.event.remove(self._engine, name, listener)
        self.flush(timeout)
        left = self._queue.unfinished_tasks
        if left:
            self._lost(left, f"{left} entries were still queued at the deadline")
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self.transport.close()
        atexit.unregister(self._at_exit)

    def _at_exit(self) -> None:
        self.close()
        counts = self.counts
        if counts.dropped:
            print(
                f"prodml: {counts.dropped} OpenLineage event(s) not delivered to {self.url} "
                f"(last error: {counts.last_error})",
                file=sys.stderr,
            )


def _entry(row: tuple[Any, ...]) -> Event:
    """An event-log entry from the values of its INSERT (see ``SqlBase.event``)."""
    at, actor, action, subject_kind, subject_id, reason, details = row
    return Event(
        id=0,
        at=from_epoch(float(at)),
        actor=str(actor),
        action=str(action),
        subject_kind=str(subject_kind),
        subject_id=str(subject_id),
        reason=reason,
        details=json.loads(details) if details else {},
    )


_emitters: weakref.WeakKeyDictionary[Client, OpenLineageEmitter] = weakref.WeakKeyDictionary()
_emitters_lock = threading.Lock()


def attach(client: Client, url: str) -> OpenLineageEmitter:
    """The emitter of ``client``'s store to ``url``, started on first call (one per
    client: a second call gives the running one, or replaces it for another URL)."""
    with _emitters_lock:
        running = _emitters.get(client)
        if running is not None and running.url == url:
            return running
        if running is not None:
            running.close()
        emitter = _emitters[client] = OpenLineageEmitter(client, url)
        return emitter


def attached(client: Client) -> OpenLineageEmitter | None:
    return _emitters.get(client)
