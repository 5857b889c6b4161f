"""Events indexed by action and time: what changed in a period (the overview, an
incident's timeline, the shift report) asks for a few actions among many run events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 00:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
# PostgreSQL matches LIKE 'model.%' with an index only in the C collation or with the
# pattern operators; SQLite's LIKE ignores case and uses the time index instead.
PATTERN = {"action": "varchar_pattern_ops"}


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_action_at", ["action", "at"], postgresql_ops=PATTERN)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_action_at")
