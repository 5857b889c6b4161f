"""The rollout controller judges each running step on the prediction log: a failing
candidate is rolled back with the reason, a clean one advances step by step until it
is champion, too little evidence waits (never passes), and waiting too long rolls back."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.deploy import controller, rollouts
from prodml.domain.rollout import Rollout
from prodml.errors import RunStateError
from prodml.predictions.segments import table_of, write_segment


@cache
def _data() -> tuple[pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(5)
    frame = pd.DataFrame({"a": generator.normal(size=100), "b": generator.normal(size=100)})
    return frame, (frame["a"] > 0).to_numpy().astype(int)


@pytest.fixture
def ready(client: Client) -> Client:
    """Model ``m`` with v1 champion and v2 to roll out."""
    frame, labels = _data()
    with prodml.start_run("fit", client=client) as run:
        first = run.log_model(LogisticRegression().fit(frame, labels), "m", frame.head())
        run.log_model(LogisticRegression(C=5.0).fit(frame, labels), "m", frame.head())
    client.metadata.move_alias("m", "champion", 1, first.id, "first")
    return client


def _start(client: Client, *stages: dict[str, Any], **plan: Any) -> Rollout:
    steps = [{"min_duration": 0, "min_requests": 50, **stage} for stage in stages]
    return rollouts.start(client, "m", "2", {"stages": steps, **plan})


def _traffic(
    client: Client,
    rollout: Rollout,
    count: int,
    failing: int = 0,
    candidate: Any = 1,
    champion: Any = 1,
    candidate_ms: float = 2.0,
    prefix: str = "",
    errors: np.ndarray | None = None,
) -> list[str]:
    """Log ``count`` requests of the rollout's current step as the gateway's recorder
    writes them: the candidate answers its share and shadows the rest; it fails on
    ``failing`` requests spread evenly, or where ``errors`` is true. The request ids,
    in order."""
    rollout = rollouts.get(client, rollout.id)
    share = rollout.current.share
    every = count / failing if failing else float("inf")
    bad = {int(i * every) for i in range(failing)}
    if errors is not None:
        bad = {int(i) for i in np.flatnonzero(errors)}
    rows = []
    for i in range(count):
        answers = i < round(count * share)  # the candidate answers this one
        fails = i in bad
        row: dict[str, Any] = {
            "request_id": f"{prefix}{rollout.id[:6]}-{rollout.step}-{i}",
            "ts": datetime.fromtimestamp(time.time(), UTC),
            "model": "m",
            "version": rollout.baseline if fails or not answers else rollout.candidate,
            "assigned": rollout.candidate if answers else rollout.baseline,
            "variant": "candidate" if answers else "champion",
            "rollout_id": rollout.id,
            "step": rollout.step,
            "routing_key": None,
            "status": "error" if fails and answers else "ok",
            "error": "ValueError: boom" if fails and answers else None,
            "fallback": "m@1" if fails and answers else None,
            "latency_ms": candidate_ms if answers else 2.0,
            "output": (champion if fails else candidate) if answers else champion,
            "shadow_version": rollout.baseline if answers else rollout.candidate,
            "shadow_output": champion if answers else (None if fails else candidate),
            "shadow_error": "ValueError: boom" if fails and not answers else None,
            "inputs": {"a": 0.5, "b": -0.5},
        }
        rows.append(row)
    write_segment(Path(client.settings.log_url), "m", table_of(rows, ("output", "shadow_output")))
    return [row["request_id"] for row in rows]


def _events(client: Client, rollout: Rollout) -> list[tuple[str, str | None]]:
    return [(e.action, e.reason) for e in client.metadata.list_events(("rollout", rollout.id))]


@pytest.mark.parametrize("stage", [{"stage": "shadow"}, {"stage": "canary", "steps": [50]}])
def test_a_candidate_failing_a_fifth_of_requests_is_rolled_back(
    ready: Client, stage: dict[str, Any]
) -> None:
    rollout = _start(ready, stage, {"stage": "full"}, criteria={"max_error_rate": 0.05})
    _traffic(ready, rollout, 200, failing=40)

    (decision,) = controller.tick(ready)

    assert decision.action == "rolled_back"
    assert decision.rollout.state == "rolled_back"
    assert decision.reason.startswith(f"{rollout.current.label} failed: error rate 20%")
    assert "certainly above" in decision.reason and "limit 5%" in decision.reason
    assert decision.judgement.figures["candidate_errors"] == 40
    assert ready.metadata.alias_version("m", "champion") == 1
    (event,) = [
        e
        for e in ready.metadata.list_events(("rollout", rollout.id))
        if e.action == "rollout.rolled_back"
    ]
    assert event.reason == decision.reason
    assert event.details["candidate_errors"] == 40
    assert {c["name"]: c["verdict"] for c in event.details["checks"]}["error_rate"] == "fail"
    assert controller.tick(ready) == []  # nothing left to judge


def test_a_clean_candidate_advances_step_by_step_and_becomes_champion(ready: Client) -> None:
    rollout = _start(
        ready,
        {"stage": "shadow"},
        {"stage": "canary", "steps": [10, 50]},
        {"stage": "full"},
        criteria={"max_error_rate": 0.1},
    )
    actions = []
    for _ in range(4):
        _traffic(ready, rollout, 60)
        (decision,) = controller.tick(ready)
        actions.append((decision.action, decision.rollout.step))
        if decision.action == "advanced":
            (waiting,) = controller.tick(ready)  # the last step's rows do not count here
            assert waiting.action == "waiting" and "0 requests of at least 50" in waiting.reason

    assert actions == [("advanced", 1), ("advanced", 2), ("advanced", 3), ("completed", 3)]
    done = rollouts.get(ready, rollout.id)
    assert done.state == "completed"
    assert ready.metadata.alias_version("m", "champion") == 2
    move = ready.metadata.alias_moves("m")[-1]
    assert (move.previous, move.version, move.verdict, move.forced) == (1, 2, "pass", False)
    assert move.reason is not None and move.reason.startswith(f"rollout {rollout.id[:12]}")
    reasons = _events(ready, rollout)
    assert [a for a, _ in reasons] == [
        "rollout.started",
        "rollout.advanced",
        "rollout.advanced",
        "rollout.advanced",
        "rollout.completed",
    ]
    assert reasons[1][1] is not None and reasons[1][1].startswith("shadow passed, on to canary 10%")
    assert "error rate 0% [0%, 7.07%] on 60 requests, limit 10%: certainly within" in str(
        reasons[1][1]
    )
    assert str(reasons[-1][1]).startswith("every step passed; full:")


def test_too_few_requests_wait_and_never_pass(ready: Client) -> None:
    rollout = _start(ready, {"stage": "shadow", "min_requests": 100})
    _traffic(ready, rollout, 10)

    (decision,) = controller.tick(ready, now=time.time() + 86400)

    assert decision.action == "waiting"
    assert "10 requests of at least 100" in decision.reason
    assert "error rate" in decision.reason  # 0 errors in 10 is no proof either
    assert decision.judgement.verdict == "inconclusive"
    assert rollouts.get(ready, "m").state == "running"
    assert ready.metadata.alias_version("m", "champion") == 1


def test_a_candidate_erring_at_its_limit_is_not_rolled_back_on_any_of_twenty_ticks(
    ready: Client,
) -> None:
    """Each tick is another look at the step: judged one look at a time, this candidate
    (errors drawn at the 2% limit) would be rolled back on the 19th tick by chance."""
    rollout = _start(
        ready, {"stage": "shadow", "min_requests": 500}, criteria={"max_error_rate": 0.02}
    )
    errors = np.random.default_rng(0).random(2000) < 0.02

    decisions = []
    for tick in range(20):
        batch = errors[100 * tick : 100 * (tick + 1)]
        _traffic(ready, rollout, 100, errors=batch, prefix=f"{tick}-")
        decisions.extend(controller.tick(ready))

    assert [d.action for d in decisions] == ["waiting"] * 20
    last = decisions[-1].judgement
    assert last.figures["requests"] == 2000 and last.figures["candidate_errors"] == errors.sum()
    assert rollouts.get(ready, rollout.id).state == "running"


def test_a_step_waits_for_its_minimum_duration(ready: Client) -> None:
    rollout = _start(
        ready, {"stage": "shadow", "min_duration": "1h"}, criteria={"max_error_rate": 0.1}
    )
    _traffic(ready, rollout, 60)

    (early,) = controller.tick(ready)
    (later,) = controller.tick(ready, now=time.time() + 3601)

    assert early.action == "waiting" and "s in step of at least 3600 s" in early.reason
    assert later.action == "completed"


def test_past_its_max_duration_an_inconclusive_step_is_rolled_back(ready: Client) -> None:
    rollout = _start(ready, {"stage": "shadow", "min_requests": 100, "max_duration": "1m"})
    _traffic(ready, rollout, 10)

    (within,) = controller.tick(ready)
    (past,) = controller.tick(ready, now=time.time() + 61)

    assert within.action == "waiting"
    assert past.action == "rolled_back"
    assert past.reason.startswith("shadow reached no verdict within 60 s:")
    assert "10 requests of at least 100" in past.reason
    assert rollouts.get(ready, rollout.id).state == "rolled_back"


def test_a_slow_candidate_fails_its_latency_limit(ready: Client) -> None:
    _start(
        ready,
        {"stage": "canary", "steps": [50]},
        {"stage": "full"},
        criteria={"max_error_rate": 0.1, "max_p99_ms": 50},
    )
    _traffic(ready, rollouts.get(ready, "m"), 300, candidate_ms=200.0)

    (decision,) = controller.tick(ready)

    assert decision.action == "rolled_back"
    assert "p99 200 ms" in decision.reason and "limit 50 ms" in decision.reason


def test_a_paused_rollout_and_other_rollouts_rows_are_left_alone(ready: Client) -> None:
    other = _start(ready, {"stage": "shadow"})
    _traffic(ready, other, 60)
    rollouts.abort(ready, "m")
    rollout = _start(ready, {"stage": "shadow"}, criteria={"max_error_rate": 0.1})

    (decision,) = controller.tick(ready)
    rollouts.pause(ready, "m")

    assert decision.action == "waiting" and decision.judgement.figures["requests"] == 0
    assert controller.tick(ready) == []
    assert rollouts.get(ready, rollout.id).state == "paused"


def test_a_decision_on_a_step_someone_changed_meanwhile_is_not_applied(ready: Client) -> None:
    rollout = _start(
        ready, {"stage": "shadow"}, {"stage": "full"}, criteria={"max_error_rate": 0.1}
    )
    _traffic(ready, rollout, 60)
    judgement = controller.judge(ready, rollout)
    rollouts.pause(ready, "m", "by hand")

    assert judgement.verdict == "pass"
    with pytest.raises(RunStateError, match="changed while this decision was made"):
        controller.act(ready, judgement)
    assert (rollouts.get(ready, "m").state, rollouts.get(ready, "m").step) == ("paused", 0)


def test_a_rollout_rolled_back_while_its_last_step_was_judged_does_not_promote(
    ready: Client,
) -> None:
    rollout = _start(ready, {"stage": "shadow"}, criteria={"max_error_rate": 0.1})
    _traffic(ready, rollout, 60)
    judgement = controller.judge(ready, rollout)
    prodml.rollback("m", "alerts fired", client=ready)

    assert judgement.verdict == "pass"
    with pytest.raises(RunStateError):
        controller.act(ready, judgement)
    assert rollouts.get(ready, rollout.id).state == "rolled_back"
    assert ready.metadata.alias_version("m", "champion") == 1


def _labels(client: Client, ids: list[str], values: list[int]) -> None:
    report = prodml.ingest_labels(pa.table({"request_id": ids, "label": values}), client=client)
    assert report.matched == len(ids)


LABELLED = {"max_error_rate": None, "metric": "accuracy", "max_metric_drop": 0.05, "min_labels": 50}


def test_a_candidate_worse_on_labels_is_rolled_back(ready: Client) -> None:
    rollout = _start(ready, {"stage": "shadow", "min_requests": 60}, criteria=LABELLED)
    ids = _traffic(ready, rollout, 80, candidate=0, champion=1)

    (unlabelled,) = controller.tick(ready)
    _labels(ready, ids, [1] * 80)
    (labelled,) = controller.tick(ready)

    assert unlabelled.action == "waiting" and "0 labels of 50" in unlabelled.reason
    assert labelled.action == "rolled_back"
    assert "accuracy drop 1 [1, 1] on 80 labels, limit 0.05: certainly above" in labelled.reason
    assert labelled.judgement.figures["labels"] == 80


def test_a_candidate_as_good_on_labels_passes(ready: Client) -> None:
    rollout = _start(ready, {"stage": "shadow", "min_requests": 60}, criteria=LABELLED)
    ids = _traffic(ready, rollout, 80, candidate=1, champion=1)
    _labels(ready, ids, [1] * 80)

    (decision,) = controller.tick(ready)

    assert decision.action == "completed"
    assert ready.metadata.alias_version("m", "champion") == 2
