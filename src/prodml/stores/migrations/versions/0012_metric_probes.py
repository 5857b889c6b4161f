"""Run search probes each candidate run's latest value of a metric: an index on
(run, key, value) answers it from the index alone

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 00:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.create_index("ix_latest_metrics_run_key_value", ["run_id", "key", "value"])


def downgrade() -> None:
    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_latest_metrics_run_key_value")
