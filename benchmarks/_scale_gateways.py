"""Several ``prodml serve`` processes on one PostgreSQL store (``scale.py``): how soon
every one of them serves a rollback, and how soon another takes the rollout
controller's lease when the process holding it is killed.

The store is a fresh schema on the PostgreSQL at ``PRODML_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped at the end; blobs and the
prediction log are folders all the processes share. Model ``m``: v1 champion, v2 the
candidate of each rollout. Each gateway is ``python -m prodml.cli.main serve m --tick
T`` with its own ``PRODML_HOST`` (so its own name in heartbeats and leases), as
``tests/serve/test_many_hosts.py`` runs two."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

POSTGRES = os.environ.get("PRODML_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
STARTUP = 120.0  # seconds a cold gateway may take to be ready on a busy 2-CPU machine
POLL = 0.005  # seconds between a watcher's /healthz requests
# A plan that holds at its canary step (no evidence is ever enough in an hour).
PLAN = {
    "stages": [
        {"stage": "canary", "steps": [50], "min_duration": 3600},
        {"stage": "full", "min_duration": 3600},
    ],
}
FOREIGN = ("PRODML_METADATA_URL", "PRODML_ARTIFACT_URL", "PRODML_LOG_URL", "PRODML_AUTH",
           "PRODML_TOKEN", "PROMETHEUS_MULTIPROC_DIR")  # fmt: skip


class GatewayError(RuntimeError):
    pass


def fresh_schema(base: str = POSTGRES) -> contextlib.AbstractContextManager[str]:
    """A URL to a new, empty schema on the PostgreSQL at ``base``, dropped afterwards."""
    from prodml.stores.postgres_schema import throwaway_schema

    return throwaway_schema(base, "scale")


@dataclass
class Gateway:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    id: str = ""  # its name in heartbeats and leases, from /healthz
    killed: bool = False

    def health(self, http: httpx.Client | None = None) -> dict[str, Any]:
        found: dict[str, Any] = (http or httpx).get(f"{self.url}/healthz", timeout=5).json()
        return found

    def kill(self) -> None:
        """SIGKILL the gateway's whole process group: no goodbye, no lease given back."""
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def launch(work: Path, name: str, settings: dict[str, str], tick: float) -> Gateway:
    """Start ``prodml serve m`` as host ``name`` (not waiting for it to be ready)."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(PRODML_HOME=str(work / "home"), PRODML_USER="gateway", PRODML_HOST=name)
    env.update(settings)
    port = _free_port()
    log = work / f"{name}.log"
    command = [sys.executable, "-m", "prodml.cli.main", "serve", "m", "--tick", str(tick),
               "--port", str(port)]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, cwd=work, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Gateway(name, f"http://127.0.0.1:{port}", process, log)


def ready(gateway: Gateway) -> Gateway:
    """Wait until the gateway answers ready; its process id from /healthz."""
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline and gateway.process.poll() is None:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(f"{gateway.url}/v2/health/ready", timeout=2).json().get("ready"):
                gateway.id = gateway.health()["process"]
                return gateway
        time.sleep(0.2)
    gateway.kill()
    tail = gateway.log.read_text(errors="replace")[-3000:]
    raise GatewayError(f"gateway {gateway.name} did not become ready:\n{tail}")


def _fit(c: float) -> Any:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    generator = np.random.default_rng(3)
    frame = pd.DataFrame({"a": generator.normal(size=200), "b": generator.normal(size=200)})
    return LogisticRegression(C=c).fit(frame, (frame["a"] > 0).astype(int))


def prepare(work: Path, metadata_url: str) -> tuple[dict[str, str], Any]:
    """The gateways' settings, and a client on the store with model ``m`` logged (v1
    champion, v2)."""
    import pandas as pd

    import prodml
    from prodml.client import Client

    settings = {
        "PRODML_METADATA_URL": metadata_url,
        "PRODML_ARTIFACT_URL": str(work / "blobs"),
        "PRODML_LOG_URL": str(work / "log"),
    }
    client = Client(
        home=str(work / "home"), metadata_url=metadata_url,
        artifact_url=settings["PRODML_ARTIFACT_URL"], log_url=settings["PRODML_LOG_URL"],
        user="bench",
    )  # fmt: skip
    frame = pd.DataFrame({"a": [0.1, -0.2], "b": [0.3, 0.4]})
    with prodml.start_run("fit", client=client) as run:
        first = run.log_model(_fit(1.0), "m", frame)
        run.log_model(_fit(5.0), "m", frame)
    client.metadata.move_alias("m", "champion", 1, first.id, "first")
    return settings, client


@dataclass
class Rollbacks:
    """Per rollback: seconds from the call until each gateway served the new routing,
    the call's own seconds, and whether every gateway then answered with the champion."""

    reached: list[list[float]] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)
    champion_after: list[bool] = field(default_factory=list)

    @property
    def every(self) -> list[float]:
        """Seconds until the last gateway had it, one per rollback."""
        return [max(times) for times in self.reached]


def _routing_at_least(gateway: Gateway, version: int, started: float, seconds: float) -> float:
    """Seconds from ``started`` until the gateway's /healthz shows routing ``version`` or
    later (its router rebuilt from the store's change)."""
    with httpx.Client(timeout=5) as http:
        while True:
            found = gateway.health(http).get("routing_version")
            now = time.perf_counter()
            if found is not None and found >= version:
                return now - started
            if now - started > seconds:
                raise GatewayError(f"{gateway.name} still at routing {found}, not {version}")
            time.sleep(POLL)


def _all_reach(
    gateways: list[Gateway], version: int, started: float, seconds: float
) -> list[float]:
    """Each gateway watched by a thread of its own: seconds until each shows ``version``."""
    times: list[float | BaseException] = [0.0] * len(gateways)

    def watch(index: int) -> None:
        try:
            times[index] = _routing_at_least(gateways[index], version, started, seconds)
        except BaseException as error:  # raised below, in the caller's thread
            times[index] = error

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(len(gateways))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for found in times:
        if isinstance(found, BaseException):
            raise found
    return [float(t) for t in times if not isinstance(t, BaseException)]


def _serves_champion(gateway: Gateway) -> bool:
    answer = httpx.post(f"{gateway.url}/v1/models/m/predict", json={"a": 0.2, "b": 0.1}, timeout=10)
    body = answer.json()
    return answer.status_code == 200 and body.get("version") == 1 and body["variant"] == "champion"


def rollbacks(
    client: Any, gateways: list[Gateway], count: int, say: Callable[[str], None]
) -> Rollbacks:
    """``count`` times: start a rollout of v2 (held at a 50% canary), wait until every
    gateway routes by it, then ``prodml.rollback`` and time until every gateway's
    /healthz shows the routing version the rollback made."""
    import prodml
    from prodml.deploy import rollouts

    found = Rollbacks()
    for number in range(count):
        rollouts.start(client, "m", "2", PLAN, why="scale benchmark")
        started = time.perf_counter()
        _all_reach(gateways, client.metadata.routing_stamp()[0], started, 30)
        time.sleep(random.uniform(0.3, 0.8))  # any phase of the gateways' polling
        started = time.perf_counter()
        prodml.rollback("m", why="scale benchmark", client=client)
        called = time.perf_counter() - started
        version = client.metadata.routing_stamp()[0]
        times = _all_reach(gateways, version, started, 30)
        found.reached.append(times)
        found.calls.append(called)
        found.champion_after.append(all(_serves_champion(g) for g in gateways))
        say(f"  rollback {number + 1}: " + ", ".join(f"{t:.3f}" for t in times) + " s")
    return found


class Load:
    """``rate`` predict requests a second to each gateway, from a thread each, while
    the figures are taken: answered and failed requests are counted."""

    def __init__(self, gateways: list[Gateway], rate: float) -> None:
        self.rate = rate
        self.answered = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send, args=(g,), daemon=True) for g in gateways
        ]
        for thread in self._threads if rate > 0 else []:
            thread.start()

    def add(self, gateway: Gateway) -> None:
        if self.rate > 0:
            thread = threading.Thread(target=self._send, args=(gateway,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _send(self, gateway: Gateway) -> None:
        number = 0
        with httpx.Client(base_url=gateway.url, timeout=10) as http:
            while not self._stop.wait(1.0 / self.rate) and not gateway.killed:
                number += 1
                body = {"a": (number % 7) / 7 - 0.5, "b": (number % 5) / 5}
                try:
                    answer = http.post("/v1/models/m/predict", json=body)
                except httpx.HTTPError as error:
                    if gateway.killed:  # killed on purpose: its last requests not counted
                        return
                    self.failures.append(f"{gateway.name}: {type(error).__name__} {error}")
                    continue
                if answer.status_code == 200:
                    self.answered += 1
                else:
                    self.failures.append(
                        f"{gateway.name}: {answer.status_code} {answer.text[:200]}"
                    )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(15)


def leader(client: Any, gateways: list[Gateway]) -> Gateway | None:
    from prodml.domain.hosts import CONTROLLER

    lease = client.metadata.lease(CONTROLLER)
    return next((g for g in gateways if lease is not None and g.id == lease.holder), None)


def failover(client: Any, gateways: list[Gateway], seconds: float) -> tuple[float, str, str]:
    """SIGKILL the gateway holding the controller's lease; seconds until another live
    gateway holds it (the store polled every 10 ms), and the two names."""
    from prodml.domain.hosts import CONTROLLER

    deadline = time.monotonic() + seconds
    held = leader(client, gateways)
    while held is None:
        if time.monotonic() > deadline:
            raise GatewayError("no gateway holds the controller's lease")
        time.sleep(0.05)
        held = leader(client, gateways)
    others = {g.id: g for g in gateways if g is not held}
    time.sleep(random.uniform(0.0, 1.0))  # any phase of the lease's renewals
    held.kill()
    killed = time.perf_counter()
    while True:
        lease = client.metadata.lease(CONTROLLER)
        now = time.perf_counter()
        if lease is not None and lease.holder in others:
            return now - killed, held.name, others[lease.holder].name
        if now - killed > seconds:
            raise GatewayError(f"no other gateway took the lease in {seconds:.0f} s")
        time.sleep(0.01)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(values),
        "p99": float(np.percentile(values, 99)),
        "max": max(values),
    }
