"""The model registry: versions, aliases (protected or not), their history at any
time, tags, registration from a run, and every move in the event log."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.errors import GateRefusedError, InvalidInputError, NotFoundError


@cache
def _features() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"distance": rng.uniform(100, 3000, 300), "hour": rng.normal(size=300)})
    labels = (frame["distance"] / 1000 + frame["hour"] > 1.5).astype(int).to_numpy()
    return frame, labels


def _two_versions(client: Client, name: str = "delay") -> tuple[ModelVersion, ModelVersion]:
    frame, labels = _features()
    with prodml.start_run("fit", client=client) as run:
        first = run.log_model(
            LogisticRegression(C=0.1).fit(frame, labels), name, example=frame.head()
        )
        second = run.log_model(
            LogisticRegression(C=10.0).fit(frame, labels), name, example=frame.head()
        )
    return first, second


def _alias_events(client: Client) -> list[tuple[str, str, str | None, str, object, object]]:
    return [
        (e.action, e.actor, e.reason, e.details["alias"], e.details["from"], e.details["to"])
        for e in prodml.events(client=client)
        if e.action in ("model.alias_moved", "model.alias_forced")
    ]


def test_versions_are_numbered_and_resolved_by_number_latest_and_alias(client: Client) -> None:
    first, second = _two_versions(client)

    assert (first.ref, second.ref) == ("delay@1", "delay@2")
    assert prodml.get_model("delay", client=client).id == second.id
    assert prodml.get_model("delay@latest", client=client).id == second.id
    assert prodml.get_model("delay@1", client=client).id == first.id

    prodml.set_alias("delay@1", "challenger", client=client)
    assert prodml.get_model("delay@challenger", client=client).id == first.id
    with pytest.raises(NotFoundError, match="no alias 'canary'"):
        prodml.get_model("delay@canary", client=client)


def test_set_alias_moves_challenger_and_records_each_move(client: Client) -> None:
    _two_versions(client)

    first = prodml.set_alias("delay@1", "challenger", reason="try the cautious one", client=client)
    second = prodml.set_alias("delay@2", "challenger", reason="v2 won offline", client=client)

    assert (first.alias, first.version, first.previous) == ("challenger", 1, None)
    assert (second.version, second.previous, second.actor) == (2, 1, "tester")
    assert second.reason == "v2 won offline" and not second.forced
    assert prodml.get_model("delay@challenger", client=client).version == 2
    history = prodml.model_history("delay", client=client)
    assert history.aliases == {"challenger": 2}
    assert [(m.alias, m.previous, m.version, m.reason) for m in history.moves] == [
        ("challenger", None, 1, "try the cautious one"),
        ("challenger", 1, 2, "v2 won offline"),
    ]
    assert _alias_events(client) == [
        ("model.alias_moved", "tester", "try the cautious one", "challenger", None, 1),
        ("model.alias_moved", "tester", "v2 won offline", "challenger", 1, 2),
    ]


def test_champion_is_protected_and_moves_only_through_promote(client: Client) -> None:
    _two_versions(client)

    with pytest.raises(InvalidInputError, match="prodml models promote delay 1 --to champion"):
        prodml.set_alias("delay@1", "champion", client=client)
    with pytest.raises(GateRefusedError, match="No evaluation suite for model 'delay'"):
        prodml.promote("delay", 1, client=client)
    assert prodml.model_history("delay", client=client).aliases == {}

    promotion = prodml.promote("delay", 1, force=True, why="first release", client=client)

    assert promotion.move.forced and promotion.move.reason == "first release"
    assert prodml.get_model("delay@champion", client=client).version == 1
    assert _alias_events(client) == [
        ("model.alias_forced", "tester", "first release", "champion", None, 1)
    ]


def test_protect_alias_makes_any_alias_move_only_through_the_gate(client: Client) -> None:
    _two_versions(client)
    prodml.set_alias("delay@1", "stable", client=client)

    prodml.protect_alias("delay", "stable", client=client)

    with pytest.raises(InvalidInputError, match="'stable' of 'delay' is protected"):
        prodml.set_alias("delay@2", "stable", client=client)
    assert prodml.get_model("delay@stable", client=client).version == 1
    assert "stable" in client.metadata.protected("delay")

    prodml.protect_alias("delay", "stable", protected=False, client=client)
    prodml.set_alias("delay@2", "stable", client=client)
    assert prodml.get_model("delay@stable", client=client).version == 2


def test_history_as_of_a_past_time_gives_the_aliases_then(client: Client) -> None:
    _two_versions(client)
    prodml.set_alias("delay@1", "challenger", client=client)
    time.sleep(0.02)
    between = datetime.now(UTC)
    time.sleep(0.02)
    prodml.set_alias("delay@2", "challenger", client=client)

    then = prodml.model_history("delay", as_of=between, client=client)
    now = prodml.model_history("delay", client=client)

    assert then.aliases == {"challenger": 1}
    assert now.aliases == {"challenger": 2}
    assert len(then.moves) == 2  # the list of moves is the whole history
    assert prodml.get_model("delay@challenger", as_of=between, client=client).version == 1
    before_any = datetime(2000, 1, 1, tzinfo=UTC)
    assert prodml.model_history("delay", as_of=before_any, client=client).aliases == {}


def test_tags_are_stored_per_version_and_replaced(client: Client) -> None:
    first, second = _two_versions(client)

    prodml.tag_model("delay@1", "stage", "staging", client=client)
    prodml.tag_model("delay@1", "stage", "production", client=client)
    prodml.tag_model("delay@1", "owner", "ops", client=client)

    tags = client.metadata.tags(first.id)
    assert [(t.key, t.value, t.version, t.actor) for t in tags] == [
        ("owner", "ops", 1, "tester"),
        ("stage", "production", 1, "tester"),
    ]
    assert client.metadata.tags(second.id) == []
    tagged = [e.details for e in prodml.events(client=client) if e.action == "model.tagged"]
    assert tagged == [{"stage": "staging"}, {"stage": "production"}, {"owner": "ops"}]
    with pytest.raises(InvalidInputError, match="Tag key ''"):
        prodml.tag_model("delay@1", "", "x", client=client)


def test_register_model_makes_version_one_of_a_new_name_from_a_run(client: Client) -> None:
    frame, labels = _features()
    model = LogisticRegression().fit(frame, labels)
    with prodml.start_run("fit", client=client) as run:
        logged = run.log_model(model, "delay", example=frame[:5])

    registered = prodml.register_model(run.id, "delay-prod", client=client)

    assert (registered.ref, registered.run_id) == ("delay-prod@1", run.id)
    assert registered.digest == logged.digest
    assert registered.signature == logged.signature
    predictor = prodml.load_predictor("delay-prod@1", client=client)
    assert predictor.predict(frame[:20]) == model.predict(frame[:20]).tolist()


def test_a_run_with_one_logged_model_can_be_registered_under_several_names(
    client: Client,
) -> None:
    frame, labels = _features()
    with prodml.start_run("fit", client=client) as run:
        logged = run.log_model(LogisticRegression().fit(frame, labels), "delay", example=frame[:5])
    prodml.register_model(run.id, "delay-staging", client=client)

    # the run still logged one model: the registered copy is not a second one
    prod = prodml.register_model(run.id[:12], "delay-prod", client=client)

    assert (prod.ref, prod.digest) == ("delay-prod@1", logged.digest)


def test_register_model_needs_a_source_when_a_run_logged_several(client: Client) -> None:
    first, second = _two_versions(client)

    with pytest.raises(InvalidInputError, match="several models") as refused:
        prodml.register_model(first.run_id, "delay-prod", client=client)

    assert "delay@1, delay@2" in str(refused.value)
    with pytest.raises(NotFoundError):
        prodml.get_model("delay-prod", client=client)
    chosen = prodml.register_model(first.run_id, "delay-prod", source="delay@2", client=client)
    assert (chosen.ref, chosen.digest) == ("delay-prod@1", second.digest)


def test_a_model_with_a_long_name_has_its_aliases_protected_on_every_store(
    client: Client,
) -> None:
    name = "fraud-" + "x" * 190  # names may be up to 200 characters
    _two_versions(client, name)
    prodml.protect_alias(name, "challenger", client=client)
    with pytest.raises(InvalidInputError, match="protected"):
        prodml.set_alias(f"{name}@1", "challenger", client=client)
    assert any(e.subject_id == name for e in prodml.events(client=client))
