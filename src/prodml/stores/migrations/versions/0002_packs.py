"""Small files of a folder dataset are stored together in pack blobs; the event
log refuses updates and deletes

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
    for statement in _APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _UNDO[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("dataset_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_files_pack"))
        batch_op.drop_column("pack_offset")
        batch_op.drop_column("pack")


_REFUSE = "events are append-only: record a new event instead"
_APPEND_ONLY = {
    "sqlite": [
        f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END",
        f"CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION prodml_events_append_only() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
        "FOR EACH ROW EXECUTE FUNCTION prodml_events_append_only()",
    ],
}
_UNDO = {
    "sqlite": ["DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete"],
    "postgresql": [
        "DROP TRIGGER events_append_only ON events",
        "DROP FUNCTION prodml_events_append_only()",
    ],
}
