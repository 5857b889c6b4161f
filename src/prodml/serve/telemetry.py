"""Prometheus metrics of the gateway: requests, errors, fallbacks and latency per
model, version and route. With several worker processes the metrics are shared
through ``PROMETHEUS_MULTIPROC_DIR`` so every scrape sees all of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)  # fmt: skip

LABELS = ("model", "version", "route")
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "prodml_requests", "Requests answered, by status code.", (*LABELS, "status"),
            registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "prodml_model_errors", "Model calls that raised or timed out.", LABELS,
            registry=self.registry,
        )  # fmt: skip
        self.fallbacks = Counter(
            "prodml_fallbacks", "Requests answered by a fallback.", (*LABELS, "answered_by"),
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "prodml_request_seconds", "Time from request to response.", LABELS,
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.log_rows = Gauge(
            "prodml_log_rows", "Prediction-log rows since start, by what became of them.",
            ("state",), registry=self.registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.log_alive = Gauge(
            "prodml_log_writer_alive", "1 while the prediction-log writer runs.",
            registry=self.registry, multiprocess_mode="livemin",
        )  # fmt: skip
        self.routing_failures = Gauge(
            "prodml_routing_failures", "Routing refreshes failed in a row (0: following).",
            registry=self.registry, multiprocess_mode="livemax",
        )  # fmt: skip
        self._children: dict[tuple[str, ...], tuple[Counter, Histogram]] = {}

    def state(self, log: dict[str, Any], routing_failures: int) -> None:
        """Gauges read at scrape time: the prediction log's counts and routing."""
        for key in ("written", "quarantined", "dropped", "buffered"):
            self.log_rows.labels(key).set(float(log.get(key, 0)))
        self.log_alive.set(1.0 if log.get("alive", True) else 0.0)
        self.routing_failures.set(float(routing_failures))

    def observe(self, model: str, version: str, route: str, status: int, seconds: float) -> None:
        key = (model, version, route, str(status))
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(model, version, route, str(status)),
                self.latency.labels(model, version, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of worker processes that are gone (a worker uvicorn
    restarted), so scrapes do not count them, and drop this one's at exit."""
    import atexit
    import re

    for path in Path(folder).glob("gauge_live*_*.db"):
        found = re.search(r"_(\d+)\.db$", path.name)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, another user's
            continue
    atexit.register(multiprocess.mark_process_dead, os.getpid(), folder)
