"""The monitoring SDK: monitors over the prediction log, alerts and what changed.

Incidents and the responses to them are in :mod:`prodml.sdk.incidents`."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml import times
from prodml.client import Client, default_client
from prodml.domain.monitoring import Alert, Window
from prodml.errors import InvalidInputError, ProdmlError

if TYPE_CHECKING:  # the judges load numpy and scipy: only when a window is judged
    from prodml.monitor.precision import Precision as Precision
    from prodml.monitor.runner import Outcome as Outcome
    from prodml.monitor.spec import MonitorSpec as MonitorSpec


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
    since: datetime | str | None = None,
    client: Client | None = None,
) -> list[Alert]:
    """Alerts, newest first: of one model, in one state (open, acked, ignored), whose
    windows end after ``since`` (a time, or what people type: ``24h``, ``7d``)."""
    store = (client or default_client()).metadata
    after = times.moment(since, "--since")
    return store.alerts(name, (state,) if state else (), after.timestamp() if after else None)


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
    name: str | None = None, since: datetime | str | None = None, client: Client | None = None
) -> list[Precision]:
    """Per model and monitor: alerts fired, acted on, ignored, and a retuning suggestion."""
    from prodml.monitor import precision

    return precision.report(client or default_client(), name, times.moment(since, "--since"))


def changes(
    since: datetime | str,
    until: datetime | str | None = None,
    name: str | None = None,
    client: Client | None = None,
) -> list[dict[str, Any]]:
    """What changed since ``since`` (a time, or ``24h``, ``7d``...): model versions, alias
    moves, rollout steps, dataset versions, validation sets, monitors, alerts and
    incidents (oldest first)."""
    from prodml.monitor import context

    after = times.moment(since, "--since")
    if after is None:
        raise InvalidInputError("What changed needs a start: since='24h', '7d' or an ISO time.")
    return context.changes(client or default_client(), after, times.moment(until, "--until"), name)


def list_monitors(name: str | None = None, client: Client | None = None) -> list[MonitorSpec]:
    """The declared monitors (of one model, or all), by model name."""
    from prodml.monitor.spec import MonitorSpec

    declared = (client or default_client()).metadata.monitor_specs(name)
    return [MonitorSpec.from_json(text) for text in declared.values()]


def monitor_windows(
    name: str,
    kind: str = "traffic",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    limit: int | None = 500,
    client: Client | None = None,
) -> list[Window]:
    """The evaluated windows of one model's monitor, newest first: ``kind`` is
    ``traffic`` (inputs, predictions, latency, errors) or ``labels`` (the label metric),
    each with its statistics and the state of the alert it raised, if any."""
    after, before = times.moment(since, "--since"), times.moment(until, "--until")
    return (client or default_client()).metadata.windows(
        name,
        kind,
        before=before.timestamp() if before else None,
        since=after.timestamp() if after else None,
        limit=limit,
    )


COMPACT_EVERY = 600.0  # seconds between the monitor worker's compactions of the log


def _compact(client: Client) -> None:
    """Compact the log; a failure is printed and tried again at the next turn (the
    worker's monitors must not stop for it)."""
    from prodml.sdk.predictions import compact_predictions

    try:
        compact_predictions(client=client)
    except (ProdmlError, OSError) as problem:
        print(f"prodml: compacting the prediction log failed: {problem}", file=sys.stderr)


def serve_monitors(
    name: str | None = None,
    every: float = 60.0,
    stop: threading.Event | None = None,
    report: Callable[[list[Outcome]], None] | None = None,
    client: Client | None = None,
    *,
    compact_every: float | None = COMPACT_EVERY,
) -> None:
    """Run the monitors every ``every`` seconds until ``stop`` is set, as one of any
    number of workers: each beats a heartbeat, and only the one holding the monitor
    worker's lease runs them (a standby takes over when the leader stops or dies).
    The leader also compacts the prediction log every ``compact_every`` seconds (None:
    never; ``prodml predictions compact`` then has to). ``report`` gets each run's
    outcomes."""
    from prodml.deploy.heartbeats import Heartbeats
    from prodml.deploy.leases import Leadership
    from prodml.domain.hosts import MONITOR, WORKER

    client = client or default_client()
    stop = stop or threading.Event()
    beats = Heartbeats(client, WORKER, [name] if name else [])
    leadership = Leadership(client, MONITOR, term=min(max(every, 1.0), 10.0), holder=beats.id)
    beats.start()
    leadership.start()
    compacted = float("-inf")  # the first turn as leader compacts
    try:
        while not stop.is_set():
            started = time.monotonic()
            if leadership.fence is not None:
                outcomes = run_monitors(name, client=client)
                if report is not None:
                    report(outcomes)
                if compact_every is not None and started - compacted >= compact_every:
                    compacted = started
                    _compact(client)
                stop.wait(max(0.0, every - (time.monotonic() - started)))
            else:  # a standby: wake when the lease comes, or to look at stop again
                leadership.became.wait(min(every, 1.0))
                leadership.became.clear()
    finally:
        leadership.close()
        beats.close()
