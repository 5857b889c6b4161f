"""Rollouts by hand: start against the champion, pause, resume, abort, promote with a
reason, and roll back, each move an event; a stale decision is refused."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.deploy import rollouts
from prodml.domain.artifact import ModelVersion
from prodml.domain.registry import AliasMove
from prodml.domain.rollout import Rollout
from prodml.errors import InvalidInputError, NotFoundError, RunStateError

SHADOW = {"stages": [{"stage": "shadow"}]}


@cache
def _data() -> tuple[pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(3)
    frame = pd.DataFrame({"a": generator.normal(size=100), "b": generator.normal(size=100)})
    return frame, (frame["a"] > 0).to_numpy().astype(int)


def _versions(client: Client, count: int = 2, name: str = "m") -> list[ModelVersion]:
    frame, labels = _data()
    with prodml.start_run("fit", client=client) as run:
        return [
            run.log_model(LogisticRegression(C=1.0 + i).fit(frame, labels), name, frame.head())
            for i in range(count)
        ]


def _crown(client: Client, version: ModelVersion) -> AliasMove:
    return client.metadata.move_alias(version.name, "champion", version.version, version.id, "t")


@pytest.fixture
def ready(client: Client) -> Client:
    """Model ``m`` with v1 champion and v2, v3 to roll out."""
    first, _, _ = _versions(client, 3)
    _crown(client, first)
    return client


def _actions(client: Client, rollout: Rollout) -> list[tuple[str, str | None]]:
    return [(e.action, e.reason) for e in client.metadata.list_events(("rollout", rollout.id))]


def test_a_rollout_starts_against_the_champion_with_the_default_plan(ready: Client) -> None:
    rollout = prodml.start_rollout("m", 2, why="v2 is fresher", client=ready)

    assert (rollout.model, rollout.candidate, rollout.baseline) == ("m", 2, 1)
    assert (rollout.state, rollout.step, rollout.actor) == ("running", 0, "tester")
    assert rollout.share == 0.0 and rollout.current.label == "shadow"
    assert [s.label for s in rollout.plan.steps][-1] == "full"
    (started,) = ready.metadata.list_events(("rollout", rollout.id))
    assert (started.action, started.reason) == ("rollout.started", "v2 is fresher")
    assert started.details == {
        "candidate": 2,
        "champion": 1,
        "steps": ["shadow", "canary 5%", "canary 25%", "canary 50%", "full"],
        "offline_gate": "no suite",
        "forced": False,
    }
    assert rollouts.get(ready, "m") == rollout
    assert rollouts.get(ready, rollout.id[:10]) == rollout
    assert rollouts.active(ready, "m") == rollout


def test_a_rollout_is_refused_without_a_champion(client: Client) -> None:
    _versions(client, 2)

    with pytest.raises(NotFoundError, match="'m' has no champion to roll out against"):
        rollouts.start(client, "m", "2", SHADOW)


def test_a_rollout_is_refused_for_the_champion_itself_or_while_another_runs(
    ready: Client,
) -> None:
    with pytest.raises(InvalidInputError, match="m@1 is already the champion"):
        rollouts.start(ready, "m", "1", SHADOW)
    first = rollouts.start(ready, "m", "2", SHADOW)
    with pytest.raises(InvalidInputError, match=f"already has rollout {first.id[:12]} of v2"):
        rollouts.start(ready, "m", "3", SHADOW)
    rollouts.pause(ready, "m")
    with pytest.raises(InvalidInputError, match="already has rollout"):  # paused is active
        rollouts.start(ready, "m", "3", SHADOW)
    with pytest.raises(NotFoundError):
        rollouts.start(ready, "m", "9", SHADOW)
    with pytest.raises(InvalidInputError, match="Rollout plan has 2 problems:\n  stages is req"):
        rollouts.start(ready, "m", "3", {"steps": []})


def test_pause_resume_and_abort_are_recorded_with_their_reasons(ready: Client) -> None:
    rollout = rollouts.start(ready, "m", "2", {"stages": [{"stage": "canary", "steps": [20]}]})

    paused = prodml.rollout_action("pause", "m", "weekend", client=ready)
    assert (paused.state, paused.share) == ("paused", 0.2)  # traffic stays where it was
    with pytest.raises(InvalidInputError, match="already paused"):
        rollouts.pause(ready, "m")
    resumed = rollouts.resume(ready, "m", "monday")
    assert resumed.state == "running"
    with pytest.raises(InvalidInputError, match="is not paused"):
        rollouts.resume(ready, "m")
    aborted = rollouts.abort(ready, "m", "not worth it")
    assert (aborted.state, aborted.share) == ("aborted", 0.0)
    assert rollouts.active(ready, "m") is None
    with pytest.raises(InvalidInputError, match="is aborted; nothing to change"):
        rollouts.pause(ready, "m")
    with pytest.raises(InvalidInputError, match="is aborted; nothing to change"):
        rollouts.resume(ready, rollout.id[:8])
    with pytest.raises(NotFoundError, match="No rollout in progress for 'other'"):
        rollouts.pause(ready, "other")
    with pytest.raises(InvalidInputError, match="No rollout action 'skip'"):
        prodml.rollout_action("skip", "m", client=ready)

    assert _actions(ready, rollout) == [
        ("rollout.started", None),
        ("rollout.paused", "weekend"),
        ("rollout.resumed", "monday"),
        ("rollout.aborted", "not worth it"),
    ]
    assert ready.metadata.alias_version("m", "champion") == 1


def test_promote_needs_a_reason_and_makes_the_candidate_champion(ready: Client) -> None:
    rollout = rollouts.start(ready, "m", "2", SHADOW)

    for why in (None, "  "):
        with pytest.raises(InvalidInputError, match="give --why TEXT"):
            rollouts.promote(ready, "m", why)
    done = rollouts.promote(ready, "m", "the checks are too slow today")

    assert done.state == "completed"
    assert ready.metadata.alias_version("m", "champion") == 2
    move = ready.metadata.alias_moves("m")[-1]
    assert (move.previous, move.version, move.forced, move.verdict) == (1, 2, True, "forced")
    assert move.reason == f"rollout {rollout.id[:12]}: the checks are too slow today"
    assert _actions(ready, rollout)[-1] == ("rollout.completed", "the checks are too slow today")


def test_promote_is_refused_once_the_champion_moved_under_the_rollout(ready: Client) -> None:
    rollouts.start(ready, "m", "2", SHADOW)
    _crown(ready, ready.metadata.get_model_version("m", "3"))

    with pytest.raises(RunStateError, match="m@champion moved to v3"):
        rollouts.promote(ready, "m", "ship it")
    assert ready.metadata.alias_version("m", "champion") == 3


def test_rollback_ends_an_active_rollout_and_leaves_the_champion(ready: Client) -> None:
    rollout = rollouts.start(ready, "m", "2", SHADOW)

    done = prodml.rollback("m", "alerts fired", client=ready)

    assert isinstance(done, Rollout)
    assert (done.id, done.state) == (rollout.id, "rolled_back")
    assert ready.metadata.alias_version("m", "champion") == 1
    assert _actions(ready, rollout)[-1] == ("rollout.rolled_back", "alerts fired")


def test_rollback_without_a_rollout_moves_the_champion_back(ready: Client) -> None:
    _crown(ready, ready.metadata.get_model_version("m", "2"))

    done = prodml.rollback("m", "v2 is slow", client=ready)

    assert isinstance(done, AliasMove)
    assert (done.alias, done.previous, done.version) == ("champion", 2, 1)
    assert (done.verdict, done.reason) == ("rollback", "rollback: v2 is slow")
    assert ready.metadata.alias_version("m", "champion") == 1
    moved = [e for e in ready.metadata.list_events() if e.action == "model.alias_moved"]
    assert moved[-1].details["verdict"] == "rollback"
    assert (moved[-1].details["from"], moved[-1].details["to"]) == (2, 1)


def test_rollback_says_when_there_is_nothing_to_go_back_to(ready: Client) -> None:
    with pytest.raises(InvalidInputError, match=r"m@champion \(v1\) has no earlier version"):
        rollouts.rollback(ready, "m")
    _versions(ready, 1, name="fresh")
    with pytest.raises(NotFoundError, match="'fresh' has no champion to roll back"):
        rollouts.rollback(ready, "fresh")


def test_a_decision_on_a_rollout_that_changed_meanwhile_is_refused(ready: Client) -> None:
    seen = rollouts.start(ready, "m", "2", {"stages": [{"stage": "shadow"}, {"stage": "full"}]})
    rollouts.pause(ready, "m", "someone else")

    with pytest.raises(RunStateError, match="changed while this decision was made"):
        rollouts.change(ready, seen, "rollout.advanced", "stale", step=1)
    assert rollouts.get(ready, "m").state == "paused"
    assert [a for a, _ in _actions(ready, seen)] == ["rollout.started", "rollout.paused"]


def test_the_listing_shows_rollouts_newest_first_with_a_live_verdict(ready: Client) -> None:
    first = rollouts.start(ready, "m", "2", SHADOW)
    rollouts.abort(ready, "m")
    second = rollouts.start(ready, "m", "3", SHADOW)

    shown = prodml.rollout_status("m", client=ready)

    assert [(r.id, r.state) for r, _ in shown] == [(second.id, "running"), (first.id, "aborted")]
    judged = shown[0][1]
    assert judged is not None and judged.verdict == "inconclusive"
    assert shown[1][1] is None
