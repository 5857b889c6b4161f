"""Engines for the metadata store: SQLite (WAL, busy timeout, one writer at a
time) or PostgreSQL (psycopg 3), migrated to the schema head on open."""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from prodml.errors import StoreError, StoreVersionError
from prodml.stores.checkpoint import LAST_RESORT_PAGES
from prodml.stores.schema import HEAD_REVISION

_MIGRATIONS = Path(__file__).with_name("migrations")
_KNOWN_REVISIONS = {path.name.split("_", 1)[0] for path in (_MIGRATIONS / "versions").glob("*.py")}


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_engine(url: sa.URL, busy_timeout: float) -> sa.Engine:
    database = url.database or ""
    if database and database != ":memory:":
        folder = Path(database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"Cannot create the folder {folder} of the metadata store: {error.strerror}. "
                "Check PRODML_METADATA_URL (or PRODML_HOME) and the folder's permissions."
            ) from None
    engine = sa.create_engine(
        url,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        poolclass=sa.pool.SingletonThreadPool if database in ("", ":memory:") else None,
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={LAST_RESORT_PAGES}")  # see checkpoint.py
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # A writer takes the lock up front, so it waits for the busy timeout
        # instead of failing when it upgrades a read lock ("database is locked").
        writing = connection.get_execution_options().get("prodml_write", False)
        statement = "BEGIN IMMEDIATE" if writing else "BEGIN"
        cursor = connection.connection.cursor()  # the driver's: a tenth of the cost
        try:
            cursor.execute(statement)
        except sqlite3.Error as error:
            raise sa.exc.DBAPIError.instance(
                statement, None, error, sqlite3.Error, dialect=connection.dialect
            ) from None
        finally:
            cursor.close()

    return engine


def sqlite_file(engine: sa.Engine) -> str | None:
    """The database file of a SQLite engine; None for memory or another database."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:"):
        return None
    return database


def create(url: str, busy_timeout: float) -> sa.Engine:
    try:
        parsed = sa.make_url(normalise_url(url))
    except sa.exc.ArgumentError:
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout)
    if parsed is not None and parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise StoreError(
        f"Metadata store URL {url!r} is not supported. Use sqlite:///PATH or "
        "postgresql://USER@HOST/DB (setting PRODML_METADATA_URL)."
    )


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine, connection: sa.Connection) -> Iterator[None]:
    """Serialise migrations across processes: a file lock for SQLite, an advisory lock otherwise."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        if database in ("", ":memory:"):
            yield
            return
        with open(f"{database}.migrate.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    connection.exec_driver_sql("SELECT pg_advisory_lock(727413)")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql("SELECT pg_advisory_unlock(727413)")
        connection.commit()


def _current_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def _check_known(revision: str | None, url: sa.URL) -> None:
    if revision is not None and revision not in _KNOWN_REVISIONS:
        raise StoreVersionError(
            f"The store at {url.render_as_string(hide_password=True)} was written by a newer "
            f"prodml (schema revision {revision}; this prodml knows up to {HEAD_REVISION}). "
            "Upgrade prodml: pip install --upgrade prodml"
        )


def migrate(engine: sa.Engine) -> None:
    """Bring the store to the schema head; refuse a store written by a newer prodml."""
    with engine.connect() as connection:
        revision = _current_revision(connection)
        connection.rollback()
        _check_known(revision, engine.url)
        if revision == HEAD_REVISION:
            return
        with _migration_lock(engine, connection):
            revision = _current_revision(connection)
            connection.rollback()
            _check_known(revision, engine.url)
            if revision != HEAD_REVISION:
                _upgrade(connection.execution_options(prodml_write=True))


def _upgrade(connection: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    connection.commit()
