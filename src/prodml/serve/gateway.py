"""The request path, free of any web framework: route, predict, fall back, record.

A request is checked against the version routing assigned it, answered by that
version's batcher, and, when the model raises or passes its timeout, by the next
in the fallback chain (the champion when a candidate failed, the previous champion,
then a declared default). The answer goes back at once; the shadow prediction and
the log row are left to the recorder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.client import Client
from prodml.deploy.heartbeats import Heartbeats
from prodml.domain.hosts import GATEWAY
from prodml.errors import NotFoundError, ProdmlError, echoed
from prodml.predict.slices import masks
from prodml.serve import values
from prodml.serve.inputs import rows_of
from prodml.serve.recorder import Entry, Recorder
from prodml.serve.routing import Route, Router
from prodml.serve.served import Outcome, Served
from prodml.serve.telemetry import Telemetry

NO_DEFAULT = object()


class UnansweredError(ProdmlError):
    """Neither the model nor any fallback could answer."""


class GatewayHeartbeats(Heartbeats):
    """The gateway's heartbeats, noting when its view of every process (``seen``) was
    last read, so ``/healthz`` ages that view while the store cannot be reached."""

    read_at = 0.0  # time.monotonic() of the last good read

    def beat(self) -> None:
        super().beat()
        if self.error is None:
            self.read_at = time.monotonic()


@dataclass(frozen=True)
class Options:
    timeout: float = 2.0  # seconds a model may take before the fallback answers
    default: Any = NO_DEFAULT  # the last answer in the fallback chain
    max_body: int = 1 << 20
    body_seconds: float = 10.0  # for a request's whole body to arrive (408 after)
    poll: float = 0.25
    allow_unsigned: bool = False  # serve versions logged without an input signature
    address: str = ""  # where this gateway listens, shown beside its heartbeat


@dataclass(frozen=True)
class Answer:
    request_id: str
    model: str
    version: int | None
    variant: str
    answers: list[Any]
    fallback: str | None
    error: str | None


class Gateway:
    def __init__(self, client: Client, names: list[str], options: Options) -> None:
        self.client = client
        self.options = options
        self.router = Router(client, names, options.timeout, options.poll, options.allow_unsigned)
        self.recorder: Recorder | None = None
        self.telemetry = Telemetry()
        self.heartbeats = GatewayHeartbeats(
            client, GATEWAY, names, options.address, lambda: self.router.version
        )

    def start(self) -> None:
        self.router.start()
        self.recorder = Recorder(self.client.log_files, self.client.settings.log_flush_interval)
        self.heartbeats.start()

    def close(self) -> None:
        self.heartbeats.close()
        if self.recorder is not None:
            self.recorder.close()
        self.router.close()

    def log_health(self) -> dict[str, Any]:
        """The prediction log's counts (rows written, quarantined, dropped) and its
        last problem, for /healthz and /metrics."""
        if self.recorder is None:
            return {}
        health = getattr(self.recorder, "health", None)
        return dict(health()) if callable(health) else {}

    def route(self, name: str) -> Route:
        route = self.router.routes.get(name)
        if route is None:
            served = ", ".join(sorted(self.router.routes)) or "none"
            raise NotFoundError(
                f"This gateway does not serve model {echoed(name)}; it serves: {served}."
            )
        return route

    async def answer(
        self, name: str, body: Any, headers: Mapping[str, str], route_label: str
    ) -> Answer:
        route = self.route(name)
        request_id = values.request_id(headers.get("x-request-id")) or values.new_request_id()
        rows = rows_of(body)
        key = route.key_of(headers, rows[0])
        if key is not None and len(key) > values.MAX_KEY:
            raise values.Rejected(
                f"The routing key has {len(key):,} characters; the limit is {values.MAX_KEY}.",
                "routing_key",
            )
        served, shadow, variant = route.assign(key or request_id)
        served.spec.check(rows)
        started = time.perf_counter()
        outcome, answered_by, fallback = await self._predict(route, served, rows)
        elapsed = time.perf_counter() - started
        error = outcome.error
        if error is not None:
            self.telemetry.errors.labels(name, str(served.number), route_label).inc()
        rollout = route.rollout
        if self.recorder is not None:
            self.recorder.add(
                Entry(
                    name, request_id, time.time(), rows, outcome.answers, served, answered_by,
                    shadow, variant, rollout.id if rollout else None,
                    rollout.step if rollout else None, key, elapsed * 1000.0, error, fallback,
                )
            )  # fmt: skip
        if error is not None and fallback is None:
            raise UnansweredError(
                f"Model {served.ref} failed ({error}) and no fallback could answer. "
                "Declare a last answer with: prodml serve --fallback-default VALUE"
            )
        if fallback is not None:
            self.telemetry.fallbacks.labels(name, str(served.number), route_label, fallback).inc()
        number = None if answered_by is None else answered_by.number
        return Answer(request_id, name, number, variant, outcome.answers, fallback, error)

    async def _predict(
        self, route: Route, served: Served, rows: list[Any]
    ) -> tuple[Outcome, Served | None, str | None]:
        """The outcome, who answered, and which fallback answered (None: no fallback)."""
        outcome = await _attempt(served, rows)
        if outcome.error is None:
            return outcome, served, None
        for other in route.chain(served):
            try:
                other.spec.check(rows)
            except ProdmlError:
                continue
            answer = await _attempt(other, rows)
            if answer.error is None:
                return Outcome(answer.answers, outcome.error), other, other.ref
        # guardrail rules read the rows with Arrow and DuckDB: off the event loop
        ruled = await asyncio.to_thread(_by_rules, served, rows, self.options.default)
        if ruled is not None:
            return Outcome(ruled[0], outcome.error), None, ruled[1]
        return Outcome([], outcome.error), None, None


def _by_rules(served: Served, rows: list[Any], default: Any) -> tuple[list[Any], str] | None:
    """Answers from the failed version's guardrail ``set`` rules (the first whose
    ``when`` holds for a row), the declared default for rows no rule covers; None
    when some row is left without an answer."""
    rules = served.predictor.guardrails
    setting = [r for r in rules.rules if r.set is not None] if rules is not None else []
    answers: list[Any] = [NO_DEFAULT] * len(rows)
    if setting:
        table = pa.Table.from_pylist([served.spec.logged(row) for row in rows])
        try:
            conditions = masks(table, {r.name: r.when for r in setting if r.when}, "the request")
        except ProdmlError:  # a rule the request cannot be judged by answers nothing
            conditions = {r.name: np.zeros(len(rows), dtype=bool) for r in setting if r.when}
        for rule in reversed(setting):  # the first matching rule in order wins
            hits = conditions.get(rule.name, np.ones(len(rows), dtype=bool))
            answers = [rule.set if hit else a for a, hit in zip(answers, hits, strict=True)]
    by_rules = any(a is not NO_DEFAULT for a in answers)
    if default is not NO_DEFAULT:
        answers = [default if a is NO_DEFAULT else a for a in answers]
    if any(a is NO_DEFAULT for a in answers):
        return None
    return answers, "rules" if by_rules else "default"


async def _attempt(served: Served, rows: list[Any]) -> Outcome:
    try:
        return await served.predict(rows)
    except TimeoutError:
        return Outcome([], f"timed out after {served.timeout * 1000:.0f} ms")
