"""Evaluate every due window of every monitor once: ``prodml monitor run``.

Traffic windows are judged when they close (inputs, predictions, serving figures,
traffic SLOs); label windows once their labels have had ``labels.wait`` to arrive
(metrics per slice, label SLOs). A window's history is the monitor's past windows
that raised no alert, or whose alert people marked ignored: an incident does not
teach the monitor that broken is normal, and a false alarm does."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prodml.client import Client
from prodml.data.profile import TableProfile, profile_table
from prodml.domain.monitoring import Alert, AlertState, Signal, Window, at
from prodml.errors import InvalidInputError, NotFoundError
from prodml.monitor import alerts, context, judge, quality, slos, windows
from prodml.monitor.spec import MonitorSpec
from prodml.predictions import query

TRAFFIC, LABELS = "traffic", "labels"
_PROFILES: OrderedDict[str, TableProfile] = OrderedDict()  # digest -> profile, newest last
_CACHED = 1024
SEASONAL_LEAST = 3  # same-time-of-day windows needed before they become the history


@dataclass
class Outcome:
    model: str
    kind: str
    start: float
    end: float
    rows: int
    signals: list[Signal] = field(default_factory=list)
    alert: Alert | None = None
    new: bool = False
    notes: list[str] = field(default_factory=list)


def specs(client: Client, model: str | None = None) -> list[MonitorSpec]:
    found = client.metadata.monitor_specs(model)
    if model is not None and not found:
        raise NotFoundError(
            f"Model {model!r} has no monitor. Declare one: prodml monitor set {model} SPEC.yaml"
        )
    return [MonitorSpec.from_json(text) for text in found.values()]


def run(
    client: Client,
    model: str | None = None,
    now: float | None = None,
    on_alert: Callable[[Alert], None] | None = None,
) -> list[Outcome]:
    """Evaluate all due windows; ``on_alert`` is called with each new alert."""
    moment = time.time() if now is None else now
    outcomes: list[Outcome] = []
    for spec in specs(client, model):
        for outcome in [*_traffic(client, spec, moment), *_labels(client, spec, moment)]:
            outcomes.append(outcome)
            if outcome.new and outcome.alert is not None and on_alert is not None:
                on_alert(outcome.alert)
    return outcomes


def _traffic(client: Client, spec: MonitorSpec, now: float) -> list[Outcome]:
    folder, store = client.log_files, client.metadata
    last = store.last_window(spec.model, TRAFFIC)
    first = windows.first_logged(folder, spec.model) if last is None else None
    outcomes = []
    for start in windows.due(spec, last, first, now):
        window = windows.read(folder, spec, start, start + spec.window)
        outcome = Outcome(spec.model, TRAFFIC, start, window.end, window.rows, notes=window.notes)
        digest = None
        if window.rows and window.inputs is not None:
            profile = profile_table(window.inputs, f"{spec.model} {at(start).isoformat()}")
            digest, _ = client.artifacts.put_bytes(profile.to_bytes())
            _remember(digest, profile)
            past, ready = _history(client, spec, TRAFFIC, start)
            if ready:
                profiles = [_profile(client, w.profile) for w in past if w.profile]
                stats = [w.stats for w in past]
                outcome.signals += judge.inputs(spec, profile, profiles)
                outcome.signals += judge.operations(spec, window.stats, stats)
            else:
                outcome.notes.append(f"learning: {len(past)} of {spec.warmup} past windows")
            outcome.signals += judge.slos(spec, slos.traffic(folder, spec, window))
            _hold_if_mild(client, spec, outcome, window.stats)
        evaluated = Window(
            model=spec.model,
            kind=TRAFFIC,
            start=start,
            end=window.end,
            rows=window.rows,
            profile=digest,
            stats=window.stats,
        )
        if store.add_window(evaluated):
            _alert(client, spec, outcome, window.stats)
            outcomes.append(outcome)
    return outcomes


def _labels(client: Client, spec: MonitorSpec, now: float) -> list[Outcome]:
    folder, store = client.log_files, client.metadata
    last = store.last_window(spec.model, LABELS)
    ready = [
        w
        for w in reversed(
            store.windows(spec.model, TRAFFIC, since=None if last is None else last + 1)
        )
        if w.rows and w.end + spec.labels.wait <= now
    ]
    outcomes = []
    for traffic in ready:
        start, end = traffic.start, traffic.end
        stats = quality.read(folder, spec, start, end, now)
        outcome = Outcome(spec.model, LABELS, start, end, stats["labelled"], notes=stats["notes"])
        if stats["labelled"]:
            windows_past, enough = _history(client, spec, LABELS, start)
            past = [w.stats for w in windows_past]
            least = min(len(windows_past), spec.warmup) if enough else spec.warmup
            outcome.signals += judge.quality(spec, stats, past, least)
            outcome.signals += judge.slos(spec, slos.labels(client, spec, start, end, stats))
        evaluated = Window(
            model=spec.model,
            kind=LABELS,
            start=start,
            end=end,
            rows=stats["labelled"],
            profile=None,
            stats=stats,
        )
        if store.add_window(evaluated):
            _alert(client, spec, outcome, traffic.stats)
            outcomes.append(outcome)
    return outcomes


def _hold_if_mild(
    client: Client, spec: MonitorSpec, outcome: Outcome, stats: dict[str, Any]
) -> None:
    """A mild drift (severity info) alerts only when the window before it was unusual too:
    at the family-wise rate, about one clean window in a hundred crosses a bound by a
    little, and one such window is not worth a page."""
    if not outcome.signals or alerts.severity(outcome.signals) != "info":
        return
    earlier = client.metadata.windows(spec.model, TRAFFIC, before=outcome.start, limit=3)
    busy = [w for w in earlier if w.rows][:1]  # a window without traffic between is no news
    recent = bool(busy) and outcome.start - busy[0].start <= 3 * spec.window
    if recent and (busy[0].alert_id or busy[0].stats.get("held")):
        return
    stats["held"] = [s.to_dict() for s in outcome.signals]
    outcome.signals = []
    outcome.notes.append("held: a mild drift; it alerts if the next window shows one too")


def _alert(client: Client, spec: MonitorSpec, outcome: Outcome, stats: dict[str, Any]) -> None:
    if not outcome.signals:
        return

    def gather() -> dict[str, Any]:
        sql = context.sample_query(
            spec.model, outcome.start, outcome.end, outcome.signals, 5, spec.labels.slice_by
        )
        return context.for_window(
            client,
            spec.model,
            outcome.start,
            outcome.end,
            stats,
            outcome.signals,
            _samples(client, sql),
            spec.labels.slice_by,
        )

    alert, new = alerts.raise_or_fold(
        client, spec, outcome.start, outcome.end, outcome.signals, gather
    )
    client.metadata.mark_windows(spec.model, outcome.kind, [outcome.start], alert.id)
    outcome.alert, outcome.new = alert, new


def _samples(client: Client, sql: str) -> list[str]:
    try:
        table = query.query(client.log_files, sql)
    except InvalidInputError:  # samples are a convenience; the alert matters more
        return []
    return [str(v) for v in table.column("request_id").to_pylist()]


def _history(
    client: Client, spec: MonitorSpec, kind: str, before: float
) -> tuple[list[Window], bool]:
    """The past windows to judge against (oldest first), and whether the monitor has
    seen enough (``warmup``) to judge at all. Past windows count when they have rows and
    no alert, or an ignored one. With a ``season`` and at least SEASONAL_LEAST usable
    windows at the same time of day, those are the history: hourly traffic is then
    compared with the same hour of past days, not with the night before."""
    recent = [
        w
        for w in client.metadata.windows(spec.model, kind, before=before, limit=spec.history * 2)
        if _usable(w)
    ]
    ready = len(recent) >= spec.warmup
    if spec.season and ready:
        days = max(SEASONAL_LEAST, round(spec.history * spec.window / spec.season))
        older = client.metadata.windows(
            spec.model, kind, before=before, since=before - days * spec.season - 1
        )
        same = [w for w in older if _usable(w) and _phase(before - w.start, spec.season)]
        if len(same) >= SEASONAL_LEAST:
            return same[:days][::-1], True
    return recent[: spec.history][::-1], ready


def _usable(window: Window) -> bool:
    """Rows, no alert (or an ignored one), and no mild drift held back for confirmation."""
    if not window.rows or window.held:
        return False
    return window.alert_id is None or window.alert_state is AlertState.IGNORED


def _phase(gap: float, season: float) -> bool:
    return abs(gap / season - round(gap / season)) < 1e-6


def _profile(client: Client, digest: str) -> TableProfile:
    known = _PROFILES.get(digest)
    if known is None:
        known = TableProfile.from_bytes(client.artifacts.read_bytes(digest))
        _remember(digest, known)
    return known


def _remember(digest: str, profile: TableProfile) -> None:
    _PROFILES[digest] = profile
    _PROFILES.move_to_end(digest)
    while len(_PROFILES) > _CACHED:
        _PROFILES.popitem(last=False)
