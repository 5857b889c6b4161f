"""prodml's batch-call run rate on PostgreSQL, for information (``--postgres URL``):
one process, and several at once, each time in a fresh schema dropped afterwards.
MLflow is measured on SQLite only (its anchor venv has no PostgreSQL driver)."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from _harness import prodml_env
from _tracking_concurrent import PRODML_RUNS, PRODML_STORED, Together, run_together, summary


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A prodml metadata URL into a new, empty schema of the database at ``url``."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        admin.dispose()


def postgres_together(url: str, processes: int, runs_each: int) -> Together:
    with tempfile.TemporaryDirectory(prefix="prodml-bench-pg-") as tmp, fresh_schema(url) as at:
        home = Path(tmp) / ".prodml"
        env = prodml_env(home, {"PRODML_METADATA_URL": at})
        timing = run_together(
            [sys.executable, "-c", PRODML_RUNS], runs_each, processes, env=env, cwd=Path(tmp)
        )
        engine = sa.create_engine(at.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as connection:
            stored = int(connection.exec_driver_sql(PRODML_STORED).scalar_one())
        engine.dispose()
    return summary(processes, runs_each, timing, stored)
