"""Routing from the store: which version answers a request and which shadows it.

A background thread polls the store's routing stamp (it changes with every alias
move, rollout change and guardrails version) every ``poll`` seconds and rebuilds
the table when it changes, loading new versions before the switch, so a promotion,
a rollback or a new rollout step takes effect within about a second on every
gateway process reading the same store."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prodml.client import Client
from prodml.deploy import rollouts, tokens
from prodml.domain.registry import CHAMPION
from prodml.domain.rollout import Rollout
from prodml.errors import InvalidInputError, NotFoundError, ProdmlError
from prodml.predict import loading
from prodml.serve.served import Served

BUCKETS = 10_000
MAX_BACKOFF = 30.0  # seconds between retries of a routing table that failed


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
    """The routing table of the served models, rebuilt whenever the store's routing
    stamp changes. A refresh that fails (the store unreachable, a version that cannot
    be loaded) keeps serving the last good table, is recorded in ``error`` (shown by
    ``/healthz``) and retried with backoff; versions no route uses any more are
    unloaded once requests in flight on them are done."""

    def __init__(
        self,
        client: Client,
        names: list[str],
        timeout: float,
        poll: float = 0.25,
        allow_unsigned: bool = False,
    ) -> None:
        self.client = client
        self.names = names
        self.timeout = timeout
        self.poll = poll
        self.allow_unsigned = allow_unsigned
        self.routes: dict[str, Route] = {}
        self.error: str | None = None
        self.failures = 0  # refreshes failed in a row
        self._loaded: dict[tuple[str, int], Served] = {}
        self._retired: list[tuple[float, Served]] = []
        self._stamp: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def version(self) -> int | None:
        """The routing version (the store's routing counter) the table was built from;
        None while some part of it could not be loaded."""
        return None if self._stamp is None else int(self._stamp[0])

    def start(self) -> None:
        """Load every route now (raising when a champion cannot be served), then
        follow the store."""
        try:
            self.refresh()
        except RoutingError as error:  # a fallback or a candidate is missing: serve the rest
            self.error = str(error)
        self._thread = threading.Thread(target=self._follow, name="prodml-routing", daemon=True)
        self._thread.start()

    def refresh(self) -> bool:
        """Rebuild the table if the store's routing changed; raises RoutingError after
        applying what it could when some part could not be loaded."""
        with self._lock:
            stamp = self.client.metadata.routing_stamp()
            if stamp == self._stamp:
                return False
            problems: list[str] = []
            routes = {name: self._route_or_last(name, problems) for name in self.names}
            self.routes = routes
            self._retire(routes)
            self._stamp = None if problems else stamp  # a failed part is tried again
            if problems:
                raise RoutingError("; ".join(problems))
            return True

    def _route_or_last(self, name: str, problems: list[str]) -> Route:
        try:
            return self._route(name, problems)
        except Exception as error:
            last = self.routes.get(name)
            if last is None:  # nothing served yet: the gateway cannot start with it
                raise
            problems.append(f"{name}: {_text(error)}; still serving v{last.champion.number}")
            return last

    def _follow(self) -> None:
        delay = self.poll
        while not self._stop.wait(delay):
            try:
                tokens.needed(self.client, "predict")  # keeps the auth mode's cache warm,
                # so the request path never waits on the store for it
                self.refresh()
            except Exception as error:  # keep serving the last good table, retry later
                self.failures += 1
                self.error = _text(error)
                delay = min(self.poll * 2.0**self.failures, MAX_BACKOFF)
            else:
                self.failures, self.error, delay = 0, None, self.poll
            self._unload()

    def _route(self, name: str, problems: list[str]) -> Route:
        store = self.client.metadata
        number = champion_of(self.client, name)
        moves = [m for m in store.alias_moves(name) if m.alias == CHAMPION]
        # after a rollback the version before is the one rolled back from: no fallback
        rolled_back = bool(moves) and moves[-1].verdict == "rollback"
        previous = moves[-1].previous if moves and not rolled_back else None
        rollout = rollouts.active(self.client, name)
        champion = self._load(name, number)
        fallback = self._optional(name, previous, "previous champion", problems)
        candidate = self._optional(
            name, None if rollout is None else rollout.candidate, "rollout candidate", problems
        )
        return Route(name, champion, fallback, candidate, rollout if candidate else None)

    def _optional(
        self, name: str, number: int | None, role: str, problems: list[str]
    ) -> Served | None:
        """A version that is not the champion: one that cannot be loaded leaves its
        place empty (no fallback, or no rollout traffic) instead of failing the table."""
        if number is None:
            return None
        try:
            return self._load(name, number)
        except Exception as error:
            problems.append(f"{name}: the {role} v{number} cannot be loaded ({_text(error)})")
            return None

    def _load(self, name: str, number: int) -> Served:
        version = self.client.metadata.get_model_version(name, str(number))
        if not version.signature and not self.allow_unsigned:
            raise InvalidInputError(
                f"Version {number} of {name!r} has no input signature, so the gateway could "
                "not check its inputs. Log it with example=..., or serve it with "
                "--allow-unsigned."
            )
        rails = self.client.metadata.guardrails_artifact(version.id)
        wanted = rails[0] if rails else 0
        cached = self._loaded.get((version.id, wanted))
        if cached is None:
            predictor = loading.predictor(self.client, version)
            cached = Served(predictor, self.timeout)
            self._loaded[(version.id, cached.guardrails_version)] = cached
        return cached

    def _retire(self, routes: dict[str, Route]) -> None:
        """Versions no route uses leave the table now and are closed a little later,
        when requests in flight on them are answered."""
        used = {
            id(served)
            for route in routes.values()
            for served in (route.champion, route.previous, route.candidate)
            if served is not None
        }
        now = time.monotonic()
        for key, served in list(self._loaded.items()):
            if id(served) not in used:
                del self._loaded[key]
                self._retired.append((now, served))

    def _unload(self, everything: bool = False) -> None:
        settled = time.monotonic() - (2 * self.timeout + 1.0)
        keep = []
        for retired_at, served in self._retired:
            if everything or retired_at < settled:
                served.close()
            else:
                keep.append((retired_at, served))
        self._retired = keep

    @property
    def loaded(self) -> int:
        """Versions loaded now, retired ones not yet closed included."""
        return len(self._loaded) + len(self._retired)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for served in self._loaded.values():
            served.close()
        self._unload(everything=True)


class RoutingError(ProdmlError):
    """Part of the routing table could not be built; the rest is served."""


def _text(error: Exception) -> str:
    return str(error) if isinstance(error, ProdmlError) else f"{type(error).__name__}: {error}"
