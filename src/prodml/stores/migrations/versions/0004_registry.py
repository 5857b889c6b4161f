"""The registry and evaluation: suites, evaluations, guardrails, alias moves,
protected aliases and tags

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.Float(precision=53)
ID = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "suites",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", "version"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", ID, nullable=False),
        sa.Column("model_id", ID, nullable=False),
        sa.Column("suite_version", sa.Integer(), nullable=False),
        sa.Column("baseline_id", ID, nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evaluations_model_id", "evaluations", ["model_id"])
    op.create_table(
        "guardrails",
        sa.Column("model_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact_id", ID, nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "version"),
    )
    op.create_table(
        "alias_moves",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("previous", sa.Integer(), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("evaluation_id", ID, nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alias_moves_name_alias", "alias_moves", ["name", "alias"])
    op.create_table(
        "protected_aliases",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias"),
    )
    op.create_table(
        "model_tags",
        sa.Column("model_id", ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("model_tags")
    op.drop_table("protected_aliases")
    op.drop_index("ix_alias_moves_name_alias", table_name="alias_moves")
    op.drop_table("alias_moves")
    op.drop_table("guardrails")
    op.drop_index("ix_evaluations_model_id", table_name="evaluations")
    op.drop_table("evaluations")
    op.drop_table("suites")
