"""Rollouts stored before plans were kept resolved are read after the upgrade."""

from __future__ import annotations

import json
from pathlib import Path

import prodml
from prodml.client import Client
from prodml.stores import engine as engines


def test_a_rollout_stored_with_its_plan_document_reads_back_after_the_upgrade(
    metadata_url: str, tmp_path: Path
) -> None:
    from alembic import command
    from alembic.config import Config

    old = engines.create(metadata_url, busy_timeout=5)
    config = Config()
    config.set_main_option("script_location", str(Path(engines.__file__).with_name("migrations")))
    document = {
        "stages": [
            {"stage": "shadow", "min_requests": 50},
            {"stage": "canary", "steps": [5, 50]},
            {"stage": "full"},
        ]
    }
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
        connection.exec_driver_sql(
            "INSERT INTO rollouts (id, name, candidate, baseline, plan, state, step,"
            " step_started_at, created_at, updated_at, actor, reason) VALUES"
            " ('r0ld0ld0ld0l', 'churn', 2, 1, %s, 'completed', 3, 1.0, 1.0, 2.0, 'dana', 'go')"
            % ("'" + json.dumps(document) + "'"),
        )
    old.dispose()

    client = Client(
        home=str(tmp_path / "home"), metadata_url=metadata_url, artifact_url=str(tmp_path / "b")
    )
    try:
        [(rollout, judgement)] = prodml.rollout_status("churn", client=client)
        assert rollout.state == "completed" and judgement is None
        labels = [step.label for step in rollout.plan.steps]
        assert labels == ["shadow", "canary 5%", "canary 50%", "full"]
        assert rollout.plan.steps[0].min_requests == 50
        assert rollout.plan.document == document
    finally:
        client.close()
