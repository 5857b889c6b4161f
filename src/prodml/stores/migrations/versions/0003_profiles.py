"""Profiles of dataset versions (whole or per partition) and validation results

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("partition_by", sa.String(length=255), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("version_id", "partition_by"),
    )
    op.create_table(
        "validations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("against", sa.Text(), nullable=False),
        sa.Column("alarm", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("validations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_validations_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("validations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_validations_version_id"))
    op.drop_table("validations")
    op.drop_table("profiles")
