"""Declaring a model's monitor and running every monitor once, with notifications."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prodml.client import Client
from prodml.errors import InvalidInputError, NotFoundError
from prodml.monitor import runner
from prodml.monitor import spec as specs
from prodml.monitor.notify import Notifier
from prodml.monitor.runner import Outcome
from prodml.monitor.spec import MonitorSpec

DELIVERY_DEADLINE = 10.0  # seconds a run waits for its notifications before it returns


def configure(
    client: Client, model: str, source: str | Path | dict[str, Any] | None
) -> MonitorSpec:
    known = {m.name for m in client.metadata.registered_models()}
    if model not in known:
        raise NotFoundError(
            f"No model named {model!r} to monitor. Registered: {', '.join(sorted(known)) or 'none'}"
            ". Register one first: prodml models register RUN NAME"
        )
    spec = specs.load(source if source is not None else {}, model)
    if spec.model != model:
        raise InvalidInputError(
            f"The spec names model {spec.model!r} but is set for {model!r}; remove its model "
            "field or make them agree."
        )
    client.metadata.set_monitor(model, spec.to_json())
    return spec


def run_once(
    client: Client, model: str | None, now: float | None, notify: bool = True
) -> list[Outcome]:
    notifier = _notifier(client) if notify else None
    on_alert = notifier.notify if notifier is not None else None
    try:
        return runner.run(client, model, now, on_alert)
    finally:
        if notifier is not None:
            notifier.close(DELIVERY_DEADLINE)


def _notifier(client: Client) -> Notifier:
    def failed(alert_id: str, sink: str, error: str) -> None:
        client.metadata.record_event("notify.failed", ("alert", alert_id), error, {"sink": sink})

    return Notifier.from_settings(client.settings, on_failure=failed)
