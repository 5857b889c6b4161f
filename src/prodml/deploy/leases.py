"""One process at a time acts for a role (judging rollouts, running monitors): the
one holding its lease in the store. A thread renews the lease every quarter of its
term, so a leader keeps it through a long tick, and a standby asks as often, so it
takes over within about a term and a quarter of the leader's last renewal (a
stopped leader gives the lease back at once, see ``heartbeats.Heartbeats.close``).
What a leader changes carries its fencing token (:class:`Fence`): the store refuses
it once the lease moved on."""

from __future__ import annotations

import sys
import threading

from prodml.client import Client
from prodml.deploy.heartbeats import process_id
from prodml.domain.hosts import Fence


class Leadership:
    def __init__(self, client: Client, name: str, term: float, holder: str | None = None) -> None:
        self.client = client
        self.name = name
        self.term = term  # seconds a lease lasts without renewal
        self.holder = holder or process_id()
        self.fence: Fence | None = None  # set while this process leads
        self.became = threading.Event()  # set when this process takes the lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        self.renew()
        self._thread = threading.Thread(
            target=self._loop, name=f"prodml-lease-{self.name}", daemon=True
        )
        self._thread.start()

    def renew(self) -> Fence | None:
        """Take or keep the lease; None while another process holds it (or the store
        cannot be reached: a leader that cannot renew stops acting)."""
        try:
            token = self.client.metadata.take_lease(self.name, self.holder, self.term)
            self._failing = False
        except Exception as error:
            if not self._failing:  # said once per outage, not every quarter term
                print(f"prodml: lease {self.name}: {error}", file=sys.stderr, flush=True)
            self._failing, token = True, None
        led = self.fence is not None
        self.fence = None if token is None else Fence(self.name, token)
        if self.fence is not None and not led:
            self.became.set()
        return self.fence

    def _loop(self) -> None:
        while not self._stop.wait(self.term / 4):
            self.renew()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking early when this process takes the lease;
        True when stopped."""
        self.became.wait(seconds)
        self.became.clear()
        return self._stop.is_set()

    def close(self) -> None:
        """Stop, and give the lease back if held: a standby takes it at once."""
        self._stop.set()
        self.became.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.fence is not None:
            self.fence = None
            try:
                self.client.metadata.release_lease(self.name, self.holder)
            except Exception as error:  # expiry gives it back later all the same
                print(f"prodml: lease {self.name}: {error}", file=sys.stderr, flush=True)
