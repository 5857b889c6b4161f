"""The core of the SQL metadata store: connections, transactions, the
single-writer discipline and the event log. Queries per concept live in the
``sql_*`` modules and are combined in :mod:`prodml.stores.metadata`."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from prodml.errors import InvalidInputError, ProdmlError, StoreBusyError, StoreError
from prodml.stores import driver
from prodml.stores import engine as engines
from prodml.stores.checkpoint import Checkpointer
from prodml.stores.write_turns import WriteTurns

INSERT_EVENT = (
    "INSERT INTO events (at, actor, action, subject_kind, subject_id, reason, details)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def now() -> float:
    """The time in seconds, to the microsecond: what a record's datetime keeps, so a time
    read back from a record finds the row it came from."""
    return round(time.time(), 6)


class SqlBase:
    """Owns the engine; every query mixin builds on it."""

    def __init__(self, url: str, user: str, busy_timeout: float = 60.0) -> None:
        self.url = url
        self.user = user
        self.engine = engines.create(url, busy_timeout)
        self._write_lock = threading.Lock()
        self._held: sa.Connection | None = None  # the writers' connection, under the lock
        database = engines.sqlite_file(self.engine)
        self._checkpointer = Checkpointer(database, busy_timeout) if database else None
        self._turns = WriteTurns(database, busy_timeout) if database else None
        # an in-memory database is one connection per thread: hold none across threads
        self._may_hold = not isinstance(self.engine.pool, sa.pool.SingletonThreadPool)
        try:
            engines.migrate(self.engine)
        except ProdmlError:
            self.engine.dispose()
            raise
        except DBAPIError as error:
            self.engine.dispose()
            raise StoreError(
                f"Cannot open the metadata store {self.describe()}: {error.orig}. "
                "Check PRODML_METADATA_URL and that the database is reachable."
            ) from None

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self._errors(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """One write transaction; one writer per process at a time (on SQLite one per
        file: see write_turns). The writers' connection is kept from one transaction to
        the next, not taken from the pool each time, unless the transaction failed or
        something listens for connections going back to the pool (OpenLineage does)."""
        with self._errors(), self._write_lock, self._turn():
            connection = self._writing()
            try:
                with connection.begin():
                    yield connection
            except BaseException:
                self._put_back()
                raise
            if self.engine.pool.dispatch.checkin or not self._may_hold:
                self._put_back()
        if self._checkpointer is not None:
            self._checkpointer.committed()

    def _writing(self) -> sa.Connection:
        held = self._held
        if held is None or held.closed or held.invalidated:
            held = self._held = self.engine.connect().execution_options(prodml_write=True)
        return held

    def _put_back(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()

    def _turn(self) -> contextlib.AbstractContextManager[None]:
        return self._turns.turn() if self._turns is not None else contextlib.nullcontext()

    def serialise(self, connection: sa.Connection, key: str) -> None:
        """Hold a lock on ``key`` until the transaction ends, so that two writers numbering
        versions of one name take turns. SQLite writers already do (BEGIN IMMEDIATE)."""
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.OperationalError as error:
            if "locked" in str(error.orig) or "busy" in str(error.orig):
                raise StoreBusyError(
                    f"The metadata store {self.describe()} stayed locked by another writer. "
                    "Retry, or raise PRODML_BUSY_TIMEOUT."
                ) from None
            raise StoreError(f"Metadata store {self.describe()} failed: {error.orig}") from None

    def event(
        self,
        connection: sa.Connection,
        action: str,
        subject: tuple[str, str],
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        """Append one event to the log; called inside the write that makes the change,
        so a reason that is not text refuses the whole change."""
        driver.change(
            connection, INSERT_EVENT, self._event_row(action, subject, reason, details, at)
        )

    def _event_row(
        self,
        action: str,
        subject: tuple[str, str],
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> tuple[Any, ...]:
        """An event as the columns of ``INSERT_EVENT``, made before the write that
        stores it (a hot write holds the store's lock no longer than it must)."""
        if reason is not None and not isinstance(reason, str):
            raise InvalidInputError(
                f"The reason given for {action} is {type(reason).__name__} {reason!r:.40}; "
                "give it as text (why='...' or --why TEXT)."
            )
        return (
            at if at is not None else time.time(),
            self.user,
            action,
            subject[0],
            subject[1],
            reason,
            json.dumps(details or {}, default=str, sort_keys=True),
        )

    def close(self) -> None:
        with self._write_lock:
            self._put_back()
        if self._checkpointer is not None:
            self._checkpointer.close()
        if self._turns is not None:
            self._turns.close()
        self.engine.dispose()

    def after_fork(self) -> None:
        """In a forked child: leave the parent's connections alone and open new ones."""
        self.engine.dispose(close=False)
        self._held, self._write_lock = None, threading.Lock()
        if self._checkpointer is not None:
            self._checkpointer.after_fork()
