"""A kill -9 of a real ``prodml serve`` loses only the last moments of the prediction
log, even while a shadow version takes 5 s per batch: served rows go to disk without
waiting for the shadow."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import reliability_models as models
from log_kill_models import SleepsPerBatch

import prodml
from prodml.client import Client
from prodml.deploy import rollouts

HERE = Path(__file__).resolve().parent
FLUSH_INTERVAL = 1.0
BOUND = 1.5  # seconds: the flush interval, the recorder's 0.2 s, and some slack
STARTUP_TIMEOUT = 90.0
FOREIGN = (
    "PRODML_METADATA_URL", "PRODML_ARTIFACT_URL", "PRODML_LOG_URL", "PRODML_AUTH",
    "PRODML_TOKEN", "PROMETHEUS_MULTIPROC_DIR",
)  # fmt: skip


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Model ``m``: a champion, and a candidate in a shadow rollout that sleeps 5 s
    per batch."""
    monkeypatch.chdir(tmp_path)
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    client = Client(home=str(home), user="tester", flush_interval=0.05)
    frame, _ = models.training_frame()
    with prodml.start_run("kill", client=client) as run:
        champion = run.log_model(models.fitted(seed=7), "m", example=frame.head())
        slow = SleepsPerBatch(models.fitted(seed=3), seconds=5.0)
        candidate = run.log_model(slow, "m", example=frame.head())
    client.metadata.move_alias("m", "champion", champion.version, champion.id, "test")
    plan = {"stages": [{"stage": "shadow", "min_duration": "1h", "min_requests": 1}]}
    rollouts.start(client, "m", str(candidate.version), plan, "test")
    client.close()
    yield home


@pytest.fixture
def serving(home: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(
        PRODML_HOME=str(home), PRODML_USER="gateway",
        PRODML_LOG_FLUSH_INTERVAL=str(FLUSH_INTERVAL),
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    )  # fmt: skip
    output = (home.parent / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "prodml.cli.main", "serve", "m", "--port", str(port)],
        env=env, cwd=home.parent, stdout=output, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        assert process.poll() is None, (home.parent / "gateway.log").read_text()
        assert time.monotonic() < deadline, "the gateway did not become ready"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/v2/health/ready", timeout=2.0).status_code == 200:
                break
        time.sleep(0.2)
    yield process, url
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    output.close()


def test_a_kill_9_with_a_slow_shadow_loses_only_the_last_moments_of_the_log(
    home: Path, serving: tuple[subprocess.Popen[bytes], str]
) -> None:
    process, url = serving
    answered: dict[str, float] = {}  # request id: when its answer came back
    with httpx.Client(timeout=10.0) as http:
        started = time.monotonic()
        for index in range(10_000):
            if time.monotonic() - started > 4.0:
                break
            reply = http.post(
                f"{url}/v1/models/m/predict",
                json=models.record(index),
                headers={"x-request-id": f"r{index}"},
            )
            assert reply.status_code == 200, reply.text
            answered[f"r{index}"] = time.time()
            time.sleep(0.02)  # a steady rate of about 40 requests a second
    killed_at = time.time()
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)

    client = Client(home=str(home), user="tester")
    try:
        found = prodml.query_predictions("SELECT request_id FROM predictions", client=client)
    finally:
        client.close()
    logged = set(found.column("request_id").to_pylist())
    due = {rid for rid, at in answered.items() if at < killed_at - BOUND}
    assert len(due) >= 20
    missing = sorted(due - logged, key=lambda rid: answered[rid])
    assert not missing, (
        f"{len(missing)} of {len(due)} answers older than {BOUND} s before the kill are not "
        f"in the log, the oldest {killed_at - answered[missing[0]]:.2f} s before it"
    )
    assert logged <= set(answered)
