"""An event's subject id holds any object's name (models and monitors are filed under
their name, up to 200 characters), not only 64-character ids.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite does not enforce a VARCHAR's length
    op.alter_column("events", "subject_id", type_=sa.String(255), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("events", "subject_id", type_=sa.String(64), existing_nullable=False)
