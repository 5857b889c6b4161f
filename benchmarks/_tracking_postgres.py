"""prodml's batch-call run rate on PostgreSQL, for information (``--postgres URL``):
one process, and several at once, each time in a fresh schema dropped afterwards.
MLflow is measured on SQLite only (its anchor venv has no PostgreSQL driver)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa
from _harness import prodml_env
from _tracking_concurrent import PRODML_RUNS, PRODML_STORED, Together, run_together, summary

from prodml.stores.postgres_schema import throwaway_schema


def postgres_together(url: str, processes: int, runs_each: int) -> Together:
    with (
        tempfile.TemporaryDirectory(prefix="prodml-bench-pg-") as tmp,
        throwaway_schema(url, "bench") as at,
    ):
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
