"""Each gateway and worker process tells the store it is alive, once a second, with
what it serves: ``/healthz`` and the dashboard list every host from these, with its
last heartbeat and the routing version its table was built from.

A process is named ``<host>/<pid>-<8 hex>``; the host is ``PRODML_HOST`` when set (a
container's hostname is often a random id), else the machine's name."""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from collections.abc import Callable

from prodml.client import Client
from prodml.domain.hosts import Heartbeat
from prodml.settings import host_name

EVERY = 1.0  # seconds between heartbeats


_drawn: tuple[int, str] | None = None  # (pid, hex) of this process


def process_id() -> str:
    """This process's name in heartbeats and leases: ``<host>/<pid>-<8 hex>``, the hex
    drawn once per process (again in a forked child). Host and pid alone are not
    enough: replicas of one service share their ``PRODML_HOST``, and in containers each
    runs as pid 1, so two of them would both hold one lease, fencing token and all."""
    global _drawn
    pid = os.getpid()
    if _drawn is None or _drawn[0] != pid:
        _drawn = (pid, secrets.token_hex(4))
    return f"{host_name()}/{pid}-{_drawn[1]}"


class Heartbeats:
    """Beats for this process from a thread of its own, and keeps the latest view of
    every process (``seen``) for ``/healthz`` to show without a query of its own."""

    def __init__(
        self,
        client: Client,
        role: str,
        models: list[str],
        address: str = "",
        routing_version: Callable[[], int | None] = lambda: None,
        every: float = EVERY,
    ) -> None:
        self.client = client
        self.id = process_id()
        self.role = role
        self.models = models
        self.address = address
        self.routing_version = routing_version
        self.every = every
        self.started_at = time.time()
        self.seen: list[Heartbeat] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._loop, name="prodml-heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        """One heartbeat, and the view of every process it brings back; a store that
        cannot be reached is noted and tried again on the next beat."""
        try:
            self.client.metadata.beat(
                self.id, host=host_name(), pid=os.getpid(), role=self.role,
                address=self.address, models=self.models,
                routing_version=self.routing_version(), started_at=self.started_at,
            )  # fmt: skip
            self.seen = self.client.metadata.hosts(within=3600.0)
            self.error = None
        except Exception as error:  # the gateway serves on without its heartbeat
            self.error = f"{type(error).__name__}: {error}"

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.beat()

    def close(self) -> None:
        """Stop beating and leave: the heartbeat goes and the leases held end now, so
        another process takes over at once rather than when they expire."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.client.metadata.leave(self.id)
        except Exception as error:  # leaving is a courtesy: expiry does the same later
            print(f"prodml: could not leave the store: {error}", file=sys.stderr, flush=True)
