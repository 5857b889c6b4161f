"""Store counters: a routing counter bumped with every alias move, rollout change and
guardrails write, so replicas notice a change whatever their clocks say

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = op.create_table(
        "store_counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(counters, [{"name": "routing", "value": 0}])


def downgrade() -> None:
    op.drop_table("store_counters")
