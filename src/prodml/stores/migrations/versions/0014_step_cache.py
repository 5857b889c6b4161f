"""Step cache: the outputs of each pipeline step, found by the digest of its code,
config, inputs and packages

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "step_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=False),
        sa.Column("seconds", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("nondeterministic", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_step_cache_pipeline_step", "step_cache", ["pipeline", "step"])


def downgrade() -> None:
    op.drop_index("ix_step_cache_pipeline_step", table_name="step_cache")
    op.drop_table("step_cache")
