"""One process at a time judges rollouts: the one holding the controller's lease.
Each new holder gets a larger fencing token; a change made under a token the lease
moved on from is refused, so a leader that stalled past its lease cannot apply a
decision its successor also takes. On SQLite and PostgreSQL, by the database's clock."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.deploy import controller, rollouts
from prodml.deploy.leases import Leadership
from prodml.domain.hosts import CONTROLLER, Fence
from prodml.predictions.segments import table_of, write_segment


def test_one_holder_at_a_time_and_each_new_holder_a_larger_token(client: Client) -> None:
    store = client.metadata

    first = store.take_lease(CONTROLLER, "a/1", 30.0)
    refused = store.take_lease(CONTROLLER, "b/2", 30.0)
    renewed = store.take_lease(CONTROLLER, "a/1", 30.0)
    store.release_lease(CONTROLLER, "a/1")
    second = store.take_lease(CONTROLLER, "b/2", 0.2)
    time.sleep(0.4)  # b's lease expires unrenewed
    third = store.take_lease(CONTROLLER, "a/1", 30.0)

    assert (first, refused, renewed) == (1, None, 1)
    assert second == 2 and third == 3
    lease = store.lease(CONTROLLER)
    assert lease is not None and lease.holder == "a/1" and lease.token == 3


def test_of_many_asking_at_once_exactly_one_gets_the_lease(client: Client) -> None:
    start = threading.Barrier(8)

    def ask(holder: int) -> int | None:
        start.wait()
        return client.metadata.take_lease(CONTROLLER, f"h/{holder}", 30.0)

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(ask, range(8)))

    assert [t for t in tokens if t is not None] == [1]


def test_heartbeats_show_each_process_with_its_routing_version_and_leases(
    client: Client,
) -> None:
    store = client.metadata
    for pid, version in ((11, 4), (12, 5)):
        store.beat(
            f"h{pid}/{pid}", host=f"h{pid}", pid=pid, role="gateway", address=f"h{pid}:8000",
            models=["m"], routing_version=version, started_at=time.time(),
        )  # fmt: skip
    store.take_lease(CONTROLLER, "h12/12", 30.0)

    seen = {h.id: h for h in store.hosts()}
    store.leave("h12/12")
    after = {h.id for h in store.hosts()}

    assert seen["h11/11"].routing_version == 4 and seen["h12/12"].routing_version == 5
    assert seen["h12/12"].leases == (CONTROLLER,) and seen["h11/11"].leases == ()
    assert not seen["h11/11"].stale and seen["h11/11"].age < 5
    assert after == {"h11/11"}
    assert store.take_lease(CONTROLLER, "h11/11", 30.0) == 2  # a leaver's lease is free


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(5)
    frame = pd.DataFrame({"a": generator.normal(size=100), "b": generator.normal(size=100)})
    return frame, (frame["a"] > 0).to_numpy().astype(int)


@pytest.fixture
def rolling(client: Client) -> tuple[Client, Any]:
    """Model ``m``: v1 champion, v2 in a rollout whose shadow step has clean traffic logged."""
    frame, labels = _frame()
    with prodml.start_run("fit", client=client) as run:
        first = run.log_model(LogisticRegression().fit(frame, labels), "m", frame.head())
        run.log_model(LogisticRegression(C=5.0).fit(frame, labels), "m", frame.head())
    client.metadata.move_alias("m", "champion", 1, first.id, "first")
    first_step = {"stage": "shadow", "min_duration": 0, "min_requests": 50}
    plan = {"stages": [first_step, {"stage": "full"}], "criteria": {"max_error_rate": 0.1}}
    rollout = rollouts.start(client, "m", "2", plan)
    rows = [
        {
            "request_id": f"r{i}", "ts": datetime.fromtimestamp(time.time(), UTC),
            "model": "m", "version": 1, "assigned": 1, "variant": "champion",
            "rollout_id": rollout.id, "step": 0, "routing_key": None, "status": "ok",
            "error": None, "fallback": None, "latency_ms": 2.0, "output": 1,
            "shadow_version": 2, "shadow_output": 1, "shadow_error": None,
            "inputs": {"a": 0.5, "b": -0.5},
        }
        for i in range(100)
    ]  # fmt: skip
    write_segment(Path(client.settings.log_url), "m", table_of(rows, ("output", "shadow_output")))
    return client, rollout


def test_a_decision_under_a_token_the_lease_moved_on_from_is_not_applied(
    rolling: tuple[Client, Any],
) -> None:
    client, rollout = rolling
    stale = client.metadata.take_lease(CONTROLLER, "old/1", 30.0)
    client.metadata.release_lease(CONTROLLER, "old/1")
    current = client.metadata.take_lease(CONTROLLER, "new/2", 30.0)
    assert stale is not None and current is not None

    by_stale = controller.tick(client, fence=Fence(CONTROLLER, stale))
    unchanged = rollouts.get(client, rollout.id)
    by_leader = controller.tick(client, fence=Fence(CONTROLLER, current))

    assert by_stale == [] and (unchanged.state, unchanged.step) == ("running", 0)
    assert [d.action for d in by_leader] == ["advanced"]
    assert rollouts.get(client, rollout.id).step == 1


def test_only_the_process_holding_the_lease_judges_and_a_standby_takes_over(
    rolling: tuple[Client, Any],
) -> None:
    client, _ = rolling
    stop = threading.Event()
    judged: dict[str, list[str]] = {"a": [], "b": []}
    first = Leadership(client, CONTROLLER, term=1.0, holder="a/1")
    first.start()
    second = Leadership(client, CONTROLLER, term=1.0, holder="b/2")
    second.start()
    assert first.fence is not None and second.fence is None
    first.close()  # a stops: it gives the lease back, b takes it at its next ask
    started = time.monotonic()
    watcher = threading.Thread(
        target=controller.watch,
        args=(client, 5.0, stop, lambda d: judged["b"].append(d.action), second),
    )
    watcher.start()
    while not judged["b"] and time.monotonic() - started < 10:
        time.sleep(0.05)
    took = time.monotonic() - started
    stop.set()
    second.close()
    watcher.join(10)

    assert judged == {"a": [], "b": ["advanced"]}
    assert took < 1.0 * 1.25 + 0.5  # within a term and a quarter of the last renewal
