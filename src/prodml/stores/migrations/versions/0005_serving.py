"""Serving: rollouts and hashed access tokens

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)
ID = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("candidate", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rollouts_name", "rollouts", ["name"])
    op.create_index("ix_rollouts_updated_at", "rollouts", ["updated_at"])
    op.create_table(
        "tokens",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("digest"),
    )


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_index("ix_rollouts_updated_at", "rollouts")
    op.drop_index("ix_rollouts_name", "rollouts")
    op.drop_table("rollouts")
