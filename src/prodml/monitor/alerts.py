"""The alert policy: one alert per upstream cause, not one per statistic.

Every signal of one model's window becomes one alert (five columns broken by one
upstream change are one page, not five). Later signals fold into an alert whose
windows they touch, or, within ``dedupe``, one naming the same subject, so an
incident that lasts ten hours, or whose labels arrive a day later, is still one
alert. An alert people marked *ignored* swallows its own repeats quietly; a new
cause raises a new alert."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

from prodml.client import Client
from prodml.domain.ids import new_id
from prodml.domain.monitoring import SEVERITIES, Alert, AlertClass, AlertState, Signal, at
from prodml.errors import InvalidInputError
from prodml.monitor.spec import MonitorSpec

RANK = {AlertClass.DRIFT: 0, AlertClass.SOFT: 1, AlertClass.HARD: 2}
SHOWN_SIGNALS = 30
GAP = 4  # windows: an incident need not show in every window to stay one alert


def raise_or_fold(
    client: Client,
    spec: MonitorSpec,
    start: float,
    end: float,
    signals: list[Signal],
    context: Callable[[], dict[str, Any]],
) -> tuple[Alert, bool]:
    """The alert these signals belong to, and whether to page for it: it is new, or a
    repeat that turned critical (a drift alert whose requests now fail).

    Signals fold into an alert whose windows they touch, allowing a gap of up to
    ``GAP`` windows (the same incident going on, seen in most windows but not all, or
    its labels arriving later), or, within ``dedupe``, one that names the same column,
    slice, figure or SLO (a drift that comes and goes). Anything else is a new cause
    and pages on its own."""
    store = client.metadata
    near = store.alerts(spec.model, since=start - spec.dedupe, until=end + spec.dedupe)
    keys = {s.key for s in signals}
    for alert in near:
        known = list(alert.signals)
        slack = min(spec.dedupe, GAP * spec.window)
        touching = (
            alert.window_start.timestamp() - slack <= end
            and start <= alert.window_end.timestamp() + slack
        )
        if not touching and not _subjects(known) & _subjects(signals):
            continue
        if alert.incident_id and store.incident(alert.incident_id).state == "closed":
            continue  # resolved: a recurrence is news
        if alert.state != AlertState.IGNORED or keys <= {s.key for s in known}:
            folded = _fold(client, alert, start, end, signals)
            critical = folded.severity == "critical" != alert.severity
            return folded, critical and alert.state != AlertState.IGNORED
    return _new(client, spec, start, end, signals, context()), True


def _subjects(signals: list[Signal]) -> set[tuple[str, str]]:
    return {(s.monitor, s.subject) for s in signals if s.subject != "(all inputs)"}


def _new(
    client: Client, spec: MonitorSpec, start: float, end: float, signals: list[Signal],
    context: dict[str, Any],
) -> Alert:  # fmt: skip
    ranked = _ranked(signals)
    kind = max((s.kind for s in ranked), key=RANK.__getitem__)
    alert = Alert(
        id=new_id(),
        model=spec.model,
        kind=kind,
        severity=severity(ranked),
        title=title(ranked),
        signals=tuple(ranked[:SHOWN_SIGNALS]),
        window_start=at(start),
        window_end=at(end),
        windows=1,
        state=AlertState.OPEN,
        created_at=at(time.time()),
        context=context,
    )
    return client.metadata.add_alert(alert, len(signals))


def _fold(client: Client, alert: Alert, start: float, end: float, signals: list[Signal]) -> Alert:
    merged = {s.key: s for s in alert.signals}
    for signal in signals:
        known = merged.get(signal.key)
        if known is None or _score(signal) > _score(known):
            merged[signal.key] = signal
    ranked = _ranked(list(merged.values()))
    kind = max((s.kind for s in ranked), key=RANK.__getitem__)
    folded = dataclasses.replace(
        alert,
        signals=tuple(ranked[:SHOWN_SIGNALS]),
        window_start=min(alert.window_start, at(start)),
        window_end=max(alert.window_end, at(end)),
        windows=alert.windows + 1,
        kind=kind,
        severity=max(alert.severity, severity(ranked), key=SEVERITIES.index),
        title=title(ranked),
    )
    return client.metadata.update_alert(folded)


def _score(signal: Signal) -> float:
    return signal.score if math.isfinite(signal.score) else 1e9


def _ranked(signals: list[Signal]) -> list[Signal]:
    return sorted(signals, key=lambda s: (-RANK[s.kind], -_score(s), s.key))


def severity(signals: list[Signal]) -> str:
    if any(s.kind is AlertClass.HARD for s in signals):
        return "critical"
    if any(s.kind is AlertClass.SOFT for s in signals):
        return "high"
    return "warning" if max(_score(s) for s in signals) >= 2 else "info"


def title(signals: list[Signal]) -> str:
    """What a person reads first: what moved, grouped by monitor, gravest first."""
    parts = []
    for monitor, noun in (
        ("slo", "SLO breached"), ("operations", "serving"), ("quality", "worse on"),
        ("inputs", "inputs changed"), ("predictions", "predictions shifted"),
    ):  # fmt: skip
        subjects = list(dict.fromkeys(s.subject for s in signals if s.monitor == monitor))
        if not subjects:
            continue
        named = ", ".join(subjects[:4]) + (
            f" and {len(subjects) - 4} more" if len(subjects) > 4 else ""
        )
        parts.append(f"{noun}: {named}" if monitor != "predictions" else noun)
    return "; ".join(parts)


def decide(client: Client, alert_id: str, state: str, why: str | None) -> Alert:
    if state not in (AlertState.ACKED, AlertState.IGNORED):
        raise InvalidInputError(f"An alert is marked acked or ignored, not {state!r}.")
    if not why or not why.strip():
        raise InvalidInputError(
            f"Say why with --why: the reason is what tunes the monitor later (prodml alerts "
            f"{'ack' if state == AlertState.ACKED else 'ignore'} ID --why '...')."
        )
    return client.metadata.decide_alert(alert_id, AlertState(state), why.strip())
