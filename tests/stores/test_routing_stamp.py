"""The routing stamp that gateways poll: it moves with every alias move, rollout change
and guardrails write, even when the writer's clock is behind the readers'."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from prodml.client import Client
from prodml.errors import RunStateError
from prodml.stores import sql_evaluations, sql_registry, sql_rollouts
from prodml.stores.metadata import MetadataStore

AN_HOUR = 3600.0


def clock_set_back(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every store write from now on reads a clock ``seconds`` behind the real one."""
    behind = SimpleNamespace(time=lambda: time.time() - seconds)
    for module in (sql_rollouts, sql_registry, sql_evaluations):
        monkeypatch.setattr(module, "time", behind)


def start_rollout(store: MetadataStore, rollout_id: str = "r1", model: str = "churn") -> None:
    row = dict(id=rollout_id, name=model, candidate=2, baseline=1, plan="{}", state="running")
    store.add_rollout({**row, "reason": None}, {})


def test_a_rollout_step_written_with_a_clock_an_hour_behind_changes_the_stamp(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.metadata
    start_rollout(store, "r1", "churn")
    start_rollout(store, "r2", "fraud")  # the latest rollout change, by the real clock
    before = store.routing_stamp()
    clock_set_back(monkeypatch, AN_HOUR)

    store.update_rollout("r1", ("running", 0), {"step": 1}, "rollout.stepped", None, {})

    assert store.routing_stamp() != before


def test_guardrails_attached_with_a_clock_an_hour_behind_change_the_stamp(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.metadata
    store.add_guardrails("model-a", "artifact-1")
    before = store.routing_stamp()
    clock_set_back(monkeypatch, AN_HOUR)

    store.add_guardrails("model-b", "artifact-2")

    assert store.routing_stamp() != before


def test_every_routing_change_moves_the_stamp_and_other_writes_do_not(client: Client) -> None:
    store = client.metadata
    seen = [store.routing_stamp()]
    start_rollout(store)
    seen.append(store.routing_stamp())
    store.move_alias("churn", "champion", 1, "model-1")
    seen.append(store.routing_stamp())
    move = {"name": "churn", "alias": "champion", "version": 2, "model_id": "model-2"}
    store.update_rollout("r1", ("running", 0), {"state": "promoted"}, "promoted", None, {}, move)
    seen.append(store.routing_stamp())
    store.add_guardrails("model-2", "artifact-1")
    seen.append(store.routing_stamp())

    store.record_event("note", ("store", "metadata"), "not a routing change")
    store.add_token("ci", "digest-of-a-token", "deployer")

    assert len(set(seen)) == len(seen)
    assert store.routing_stamp() == seen[-1]


def test_a_refused_rollout_change_leaves_the_stamp_as_it_was(client: Client) -> None:
    store = client.metadata
    start_rollout(store)
    before = store.routing_stamp()

    with pytest.raises(RunStateError, match="changed while this decision was made"):
        store.update_rollout("r1", ("running", 3), {"step": 4}, "rollout.stepped", None, {})

    assert store.routing_stamp() == before
