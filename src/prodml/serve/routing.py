"""Routing from the store: which version answers a request and which shadows it.

A background thread polls the store's routing stamp (it changes with every alias
move, rollout change and guardrails version) every ``poll`` seconds and rebuilds
the table when it changes, loading new versions before the switch, so a promotion,
a rollback or a new rollout step takes effect within about a second on every
gateway process reading the same store."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prodml.client import Client
from prodml.deploy import registry, rollouts
from prodml.domain.registry import CHAMPION
from prodml.domain.rollout import Rollout
from prodml.errors import NotFoundError, ProdmlError
from prodml.serve.served import Served

BUCKETS = 10_000


@dataclass(frozen=True)
class Route:
    name: str
    champion: Served
    previous: Served | None = None  # the champion before, first in the fallback chain
    candidate: Served | None = None
    rollout: Rollout | None = None

    def key_of(self, headers: Mapping[str, str], row: Any) -> str | None:
        key = self.rollout.plan.routing_key if self.rollout else None
        if key is None:
            return None
        if key.source == "header":
            return headers.get(key.name)
        value = row.get(key.name) if isinstance(row, Mapping) else None
        return None if value is None else str(value)

    def assign(self, key: str) -> tuple[Served, Served | None, str]:
        """The version that answers, the one that shadows, and the variant's name."""
        rollout, candidate = self.rollout, self.candidate
        if rollout is None or candidate is None:
            return self.champion, None, "champion"
        share = rollout.share
        if share <= 0.0:
            return self.champion, candidate, "champion"
        if share >= 1.0 or bucket(rollout.id, key) < share * BUCKETS:
            return candidate, self.champion, "candidate"
        return self.champion, candidate, "champion"

    def chain(self, failed: Served) -> list[Served]:
        """Who answers when ``failed`` raised or timed out, in order."""
        order = [self.champion, self.previous]
        seen = {failed.version.id}
        chosen = []
        for served in order:
            if served is not None and served.version.id not in seen:
                seen.add(served.version.id)
                chosen.append(served)
        return chosen


def champion_of(client: Client, name: str) -> int:
    """The version ``name`` serves; a model without a champion cannot be served."""
    client.metadata.get_model_version(name, None)  # refuses an unknown name
    number = client.metadata.alias_version(name, CHAMPION)
    if number is None:
        raise NotFoundError(
            f"Model {name!r} has no champion to serve. Promote a version first: "
            f"prodml models promote {name} VERSION"
        )
    return number


def bucket(salt: str, key: str) -> int:
    """A stable bucket in [0, BUCKETS) for a routing key within one rollout."""
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


class Router:
    def __init__(self, client: Client, names: list[str], timeout: float, poll: float = 0.25):
        self.client = client
        self.names = names
        self.timeout = timeout
        self.poll = poll
        self.routes: dict[str, Route] = {}
        self.error: str | None = None
        self._loaded: dict[tuple[str, int], Served] = {}
        self._stamp: tuple[Any, ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load every route now (raising what is wrong), then follow the store."""
        self.refresh()
        self._thread = threading.Thread(target=self._follow, name="prodml-routing", daemon=True)
        self._thread.start()

    def refresh(self) -> bool:
        stamp = self.client.metadata.routing_stamp()
        if stamp == self._stamp:
            return False
        self.routes = {name: self._route(name) for name in self.names}
        self._stamp = stamp
        return True

    def _follow(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.refresh()
                self.error = None
            except ProdmlError as error:  # keep serving the last good table
                self.error = str(error)

    def _route(self, name: str) -> Route:
        store = self.client.metadata
        number = champion_of(self.client, name)
        moves = [m for m in store.alias_moves(name) if m.alias == CHAMPION]
        # after a rollback the version before is the one rolled back from: no fallback
        rolled_back = bool(moves) and moves[-1].verdict == "rollback"
        previous = moves[-1].previous if moves and not rolled_back else None
        rollout = rollouts.active(self.client, name)
        return Route(
            name,
            self._load(name, number),
            None if previous is None else self._load(name, previous),
            None if rollout is None else self._load(name, rollout.candidate),
            rollout,
        )

    def _load(self, name: str, number: int) -> Served:
        version = self.client.metadata.get_model_version(name, str(number))
        rails = self.client.metadata.guardrails_artifact(version.id)
        wanted = rails[0] if rails else 0
        cached = self._loaded.get((version.id, wanted))
        if cached is None:
            predictor = registry.predictor(self.client, version)
            cached = Served(predictor, self.timeout)
            self._loaded[(version.id, cached.guardrails_version)] = cached
        return cached

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for served in self._loaded.values():
            served.close()
