"""The routing stamp that gateways poll: it moves with every alias move, rollout change
and guardrails write, even when the writer's clock is behind the readers'."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import pytest

from prodml.client import Client
from prodml.domain.registry import AliasChange
from prodml.domain.rollout import Criteria, Plan, Rollout, Step
from prodml.errors import RunStateError
from prodml.stores import sql_base, sql_evaluations, sql_registry
from prodml.stores.protocol import MetadataStore

AN_HOUR = 3600.0


def clock_set_back(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every store write from now on reads a clock ``seconds`` behind the real one."""
    behind = SimpleNamespace(time=lambda: time.time() - seconds)
    for module in (sql_base, sql_registry, sql_evaluations):
        monkeypatch.setattr(module, "time", behind)


FULL = Step(
    stage="full", share=1.0, min_duration=0, min_requests=0, max_duration=None, criteria=Criteria()
)
PLAN = Plan((FULL,))


def start_rollout(store: MetadataStore, rollout_id: str = "r1", model: str = "churn") -> Rollout:
    return store.add_rollout(
        rollout_id=rollout_id, model=model, candidate=2, baseline=1, plan=PLAN, reason=None,
        details={},
    )  # fmt: skip


def test_a_rollout_step_written_with_a_clock_an_hour_behind_changes_the_stamp(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.metadata
    started = start_rollout(store, "r1", "churn")
    start_rollout(store, "r2", "fraud")  # the latest rollout change, by the real clock
    before = store.routing_stamp()
    clock_set_back(monkeypatch, AN_HOUR)

    store.update_rollout(started, action="rollout.stepped", reason=None, details={}, step=1)

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
    started = start_rollout(store)
    seen.append(store.routing_stamp())
    store.move_alias("churn", "champion", 1, "model-1")
    seen.append(store.routing_stamp())
    move = AliasChange(name="churn", alias="champion", version=2, model_id="model-2", expected=1)
    store.update_rollout(
        started, action="promoted", reason=None, details={}, state="completed", move=move
    )
    seen.append(store.routing_stamp())
    store.add_guardrails("model-2", "artifact-1")
    seen.append(store.routing_stamp())

    store.record_event("note", ("store", "metadata"), "not a routing change")
    store.add_token("ci", "digest-of-a-token", "deployer")

    assert len(set(seen)) == len(seen)
    assert store.routing_stamp() == seen[-1]


def test_a_refused_rollout_change_leaves_the_stamp_as_it_was(client: Client) -> None:
    store = client.metadata
    started = start_rollout(store)
    before = store.routing_stamp()
    elsewhere = dataclasses.replace(started, step=3)  # what another controller saw

    with pytest.raises(RunStateError, match="changed while this decision was made"):
        store.update_rollout(elsewhere, action="rollout.stepped", reason=None, details={}, step=4)

    assert store.routing_stamp() == before
