"""The monitoring SDK: monitors over the prediction log, alerts and what changed.

Incidents and the responses to them are in :mod:`prodml.sdk.incidents`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prodml.client import Client, default_client
from prodml.domain.monitoring import Alert
from prodml.monitor.precision import Precision
from prodml.monitor.runner import Outcome
from prodml.monitor.spec import MonitorSpec


def set_monitor(
    name: str, spec: str | Path | dict[str, Any] | None = None, client: Client | None = None
) -> MonitorSpec:
    """Declare (or replace) the monitor of model ``name`` from a YAML file, YAML text or a
    mapping (None: every default, hourly windows). The change is an event."""
    from prodml.monitor import monitors

    return monitors.configure(client or default_client(), name, spec)


def run_monitors(
    name: str | None = None,
    now: datetime | float | None = None,
    notify: bool = True,
    client: Client | None = None,
) -> list[Outcome]:
    """Evaluate every due window of one model's monitor (or all) once. ``now`` replays the
    log as of a past moment; new alerts go to the sinks in prodml.toml unless
    ``notify`` is False."""
    from prodml.monitor import monitors

    moment = now.timestamp() if isinstance(now, datetime) else now
    return monitors.run_once(client or default_client(), name, moment, notify)


def list_alerts(
    name: str | None = None,
    state: str | None = None,
    since: datetime | None = None,
    client: Client | None = None,
) -> list[Alert]:
    """Alerts, newest first: of one model, in one state (open, acked, ignored), whose
    windows end after ``since``."""
    store = (client or default_client()).metadata
    return store.alerts(name, (state,) if state else (), since.timestamp() if since else None)


def get_alert(alert_id: str, client: Client | None = None) -> Alert:
    return (client or default_client()).metadata.alert(alert_id)


def ack_alert(alert_id: str, why: str, client: Client | None = None) -> Alert:
    """Mark an alert acted on: it was worth the page."""
    from prodml.monitor import alerts

    return alerts.decide(client or default_client(), alert_id, "acked", why)


def ignore_alert(alert_id: str, why: str, client: Client | None = None) -> Alert:
    """Mark an alert not worth it: its windows become normal history for the monitor."""
    from prodml.monitor import alerts

    return alerts.decide(client or default_client(), alert_id, "ignored", why)


def alert_precision(
    name: str | None = None, since: datetime | None = None, client: Client | None = None
) -> list[Precision]:
    """Per model and monitor: alerts fired, acted on, ignored, and a retuning suggestion."""
    from prodml.monitor import precision

    return precision.report(client or default_client(), name, since)


def changes(
    since: datetime,
    until: datetime | None = None,
    name: str | None = None,
    client: Client | None = None,
) -> list[dict[str, Any]]:
    """What changed since ``since``: model versions, alias moves, rollout steps, dataset
    versions, validation sets, monitors, alerts and incidents (oldest first)."""
    from prodml.monitor import context

    return context.changes(client or default_client(), since, until, name)
