"""Run search: each run's config, params and tags one value a row (run_values),
indexed by number and by text; latest metric values indexed by key and value

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 00:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from prodml.stores import driver
from prodml.stores.run_values import INSERT_VALUE, config_rows, value_row

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_values",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("head", sa.String(length=200), nullable=False),
        sa.Column("num", sa.Float(precision=53), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "kind", "key"),
    )
    with op.batch_alter_table("run_values", schema=None) as batch_op:
        batch_op.create_index("ix_run_values_num", ["kind", "key", "num", "run_id"])
        batch_op.create_index("ix_run_values_head", ["kind", "key", "head", "run_id"])
    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.create_index("ix_latest_metrics_key_value", ["key", "value", "run_id"])
    _fill(op.get_bind())


def _fill(connection: sa.Connection) -> None:
    """Index the runs already stored: their config and params."""
    rows = []
    for run_id, config in driver.execute(connection, "SELECT id, config FROM runs"):
        rows += config_rows(run_id, json.loads(config))
    for run_id, key, value in driver.execute(connection, "SELECT run_id, key, value FROM params"):
        row = value_row(run_id, "param", key, value)
        if row is not None:
            rows.append(row)
    driver.execute_many(connection, INSERT_VALUE, rows)


def downgrade() -> None:
    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_latest_metrics_key_value")
    op.drop_table("run_values")
