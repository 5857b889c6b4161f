"""Rollout plans stored resolved: each rollout row's plan becomes its steps and criteria
beside the document it was read from (rows written before held the document only).

A data migration: it reads the stored documents with the plan reader, as reading
those rows did before, so an upgraded store keeps its rollouts, finished or active.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 00:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from prodml.deploy import plan as plans
    from prodml.errors import InvalidInputError
    from prodml.stores.sql_rollouts import stored_plan

    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, plan FROM rollouts")).all()
    for rollout_id, text in rows:
        stored = json.loads(text) if text else None
        if isinstance(stored, dict) and "steps" in stored:
            continue
        try:
            resolved = stored_plan(plans.parse(stored or plans.DEFAULT_PLAN))
        except InvalidInputError:  # kept as it was written, its steps unknown
            resolved = {"document": stored, "steps": [], "routing_key": None}
        connection.execute(
            sa.text("UPDATE rollouts SET plan = :plan WHERE id = :id"),
            {"plan": json.dumps(resolved), "id": rollout_id},
        )


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, plan FROM rollouts")).all()
    for rollout_id, text in rows:
        stored = json.loads(text)
        if isinstance(stored, dict) and "steps" in stored:
            connection.execute(
                sa.text("UPDATE rollouts SET plan = :plan WHERE id = :id"),
                {"plan": json.dumps(stored["document"]), "id": rollout_id},
            )
