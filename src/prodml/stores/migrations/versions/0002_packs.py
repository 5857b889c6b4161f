"""Small files of a folder dataset are stored together in pack blobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:18:04.708384
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pack", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("pack_offset", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_dataset_files_pack"), ["pack"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dataset_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_files_pack"))
        batch_op.drop_column("pack_offset")
        batch_op.drop_column("pack")
