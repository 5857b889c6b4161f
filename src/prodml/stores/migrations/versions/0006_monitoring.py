"""Monitoring: monitor specs, evaluated windows, alerts and incidents

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)
ID = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("model"),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start", TIME, nullable=False),
        sa.Column("end", TIME, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=128), nullable=True),
        sa.Column("stats", sa.Text(), nullable=False),
        sa.Column("alert_id", ID, nullable=True),
        sa.Column("evaluated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("model", "kind", "start"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("signals", sa.Text(), nullable=False),
        sa.Column("window_start", TIME, nullable=False),
        sa.Column("window_end", TIME, nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("incident_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_window_end", "alerts", ["window_end"])
    op.create_table(
        "incidents",
        sa.Column("id", ID, nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("opened_by", sa.String(length=255), nullable=False),
        sa.Column("alert_ids", sa.Text(), nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_opened_at", "incidents")
    op.drop_table("incidents")
    op.drop_index("ix_alerts_window_end", "alerts")
    op.drop_table("alerts")
    op.drop_table("monitor_windows")
    op.drop_table("monitors")
