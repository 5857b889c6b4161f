"""Two gateway hosts (``prodml serve`` processes with their own PRODML_HOST and their
own scratch folder) on one PostgreSQL store and one object store (blobs and the
prediction log on moto's S3 server): each shows both in /healthz with its heartbeat
and routing version, exactly one holds the rollout controller's lease and judges the
traffic of both, a routing change reaches both within a second, and when the leader
is killed with SIGKILL mid-rollout the other takes the lease within two ticks, carries
the rollout on, and a rollback reaches it within a second."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from running_gateways import gateway_process, kill
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.deploy import rollouts
from prodml.domain.hosts import CONTROLLER

TICK = 1.0  # seconds between controller ticks (and the lease's term)


def _fit(c: float) -> LogisticRegression:
    generator = np.random.default_rng(3)
    frame = pd.DataFrame({"a": generator.normal(size=200), "b": generator.normal(size=200)})
    return LogisticRegression(C=c).fit(frame, (frame["a"] > 0).astype(int))


@pytest.fixture
def store(
    tmp_path: Path, postgres_url: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Settings of a PostgreSQL store with blobs and the log on S3 (the AWS variables
    are in the environment every host inherits), and a client on it: model ``m`` with
    v1 champion and v2."""
    monkeypatch.chdir(tmp_path)  # runs are started outside any git checkout
    settings = {
        "PRODML_METADATA_URL": postgres_url,
        "PRODML_ARTIFACT_URL": f"s3://{s3_bucket}/prodml",
    }
    client = Client(
        home=str(tmp_path / "home"), metadata_url=postgres_url,
        artifact_url=settings["PRODML_ARTIFACT_URL"], user="tester", flush_interval=0.05,
    )  # fmt: skip
    assert client.log_files.url == f"s3://{s3_bucket}/prodml/predictions"
    frame = pd.DataFrame({"a": [0.1, -0.2], "b": [0.3, 0.4]})
    with prodml.start_run("fit", client=client) as run:
        first = run.log_model(_fit(1.0), "m", frame)
        run.log_model(_fit(5.0), "m", frame)
    client.metadata.move_alias("m", "champion", 1, first.id, "first")
    yield settings, client
    client.close()


@contextlib.contextmanager
def _two_hosts(tmp_path: Path, settings: dict[str, str]) -> Iterator[list[Any]]:
    with contextlib.ExitStack() as stack:
        hosts = [
            stack.enter_context(
                gateway_process(
                    _scratch(tmp_path, name), "m", "--tick", str(TICK),
                    settings={**settings, "PRODML_HOST": name}, log_name=name,
                )
            )
            for name in ("h1", "h2")
        ]  # fmt: skip
        yield hosts


def _scratch(tmp_path: Path, name: str) -> Path:
    """A host's own local folder: nothing in it is shared with the other host."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return folder / "home"


def _health(url: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{url}/healthz", timeout=5).json()
    return found


def _until(check: Callable[[], Any], seconds: float, every: float = 0.02) -> float:
    """Seconds until ``check()`` is true; fails past ``seconds``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(every)
    return time.monotonic() - started


def _writers(client: Client, rollout_id: str) -> set[str]:
    """The hosts whose segments on the object store hold the rollout's rows."""
    from prodml.predictions import query

    connection = query.connect(client.log_files, "m", filename=True)
    try:
        found = connection.execute(
            "SELECT DISTINCT regexp_extract(filename, '-([A-Za-z0-9_]+)[.][0-9]+-', 1) "
            "FROM predictions WHERE rollout_id = ?",
            [rollout_id],
        ).fetchall()
    finally:
        connection.close()
    return {str(row[0]) for row in found}


def _traffic(url: str, count: int) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        for i in range(count):
            body = {"a": (i % 7) / 7 - 0.5, "b": (i % 5) / 5}
            assert http.post("/v1/models/m/predict", json=body).status_code == 200


def test_every_host_is_shown_and_one_judges(tmp_path: Path, store: Any) -> None:
    settings, _ = store
    with _two_hosts(tmp_path, settings) as hosts:
        urls = [url for url, _ in hosts]
        _until(lambda: all(len(_health(u)["hosts"]) == 2 for u in urls), 10)
        seen = _health(urls[0])["hosts"]

        assert {h["host"] for h in seen} == {"h1", "h2"}
        assert all(h["role"] == "gateway" and h["models"] == ["m"] for h in seen)
        assert all(h["address"].startswith("127.0.0.1:") and not h["stale"] for h in seen)
        assert len({h["routing_version"] for h in seen}) == 1
        assert sum(CONTROLLER in h["leases"] for h in seen) == 1


def test_a_rollout_reaches_both_hosts_and_survives_its_judge_being_killed(
    tmp_path: Path, store: Any
) -> None:
    settings, client = store
    with _two_hosts(tmp_path, settings) as hosts:
        urls = [url for url, _ in hosts]
        _until(lambda: client.metadata.lease(CONTROLLER) is not None, 10)
        before = _health(urls[0])["routing_version"]
        plan = {
            "stages": [
                {"stage": "shadow", "min_duration": 0, "min_requests": 40},
                {"stage": "canary", "steps": [50], "min_duration": 0, "min_requests": 40},
                {"stage": "full", "min_duration": 3600},
            ],
            "criteria": {"max_error_rate": 0.2},
        }
        rollout = rollouts.start(client, "m", "2", plan)
        reached = _until(lambda: all(_health(u)["routing_version"] != before for u in urls), 5)
        for url in urls:  # 25 requests a host: only the traffic of both makes the 40 asked
            _traffic(url, 25)
        _until(lambda: rollouts.get(client, rollout.id).step >= 1, 20, every=0.2)
        writers = _writers(client, rollout.id)

        lease = client.metadata.lease(CONTROLLER)
        assert lease is not None
        leader = next(i for i, u in enumerate(urls) if lease.holder == _health(u)["process"])
        survivor = urls[1 - leader]
        kill(hosts[leader][1])  # SIGKILL: no goodbye, the lease must expire
        killed_at = time.monotonic()
        took = _until(
            lambda: (
                (held := client.metadata.lease(CONTROLLER)) is not None
                and held.holder == _health(survivor)["process"]
            ),
            4 * TICK,
        )
        _traffic(survivor, 60)
        _until(lambda: rollouts.get(client, rollout.id).step >= 2, 20, every=0.2)
        judged_by = client.metadata.list_events(("rollout", rollout.id))[-1]
        serving = _health(survivor)["routing_version"]
        rollouts.rollback(client, "m", "the test rolls back")
        back = _until(lambda: _health(survivor)["routing_version"] != serving, 5)

    assert reached < 1.0 and back < 1.0
    assert writers == {"h1", "h2"}, "the judge counted rows that reached either host"
    assert took <= 2 * TICK + 0.5, f"took over {time.monotonic() - killed_at:.1f} s later"
    assert judged_by.action == "rollout.advanced"
