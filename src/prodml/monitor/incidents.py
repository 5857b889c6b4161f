"""Incidents: alerts someone took on, the timeline of what happened, the responses.

An incident gathers one model's alerts. Its timeline is read from the event log:
the changes before it (versions, rollouts, datasets), its alerts and the marks on
them, and every response taken from it (rollback, switch to the fallback, a
retraining command, failures added to a validation set), each recorded as an
``incident.response`` event with what it did."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prodml.client import Client
from prodml.domain.ids import new_id
from prodml.domain.lineage import Event
from prodml.domain.monitoring import Alert, AlertState, Incident, at
from prodml.errors import InvalidInputError
from prodml.monitor.context import LOOKBACK, changes


@dataclass(frozen=True)
class Moment:
    at: datetime
    what: str  # the action, e.g. alert.raised, model.alias_moved, incident.response
    text: str
    actor: str


def open_incident(
    client: Client, alert_ids: list[str], model: str | None = None, title: str | None = None
) -> Incident:
    found = list({a.id: a for a in (client.metadata.alert(i) for i in alert_ids)}.values())
    models = {a.model for a in found} | ({model} if model else set())
    if not models:
        raise InvalidInputError(
            "An incident needs its alerts (--alert ID, see: prodml alerts list) or a model "
            "(--model NAME)."
        )
    if len(models) > 1:
        raise InvalidInputError(
            f"These alerts are about different models ({', '.join(sorted(models))}); open one "
            "incident per model."
        )
    for alert in found:
        if alert.incident_id is not None:
            raise InvalidInputError(
                f"Alert {alert.id[:8]} belongs to incident {alert.incident_id[:8]} already; "
                f"see: prodml incidents show {alert.incident_id[:8]}"
            )
    incident = Incident(
        id=new_id(),
        model=models.pop(),
        title=title or (found[0].title if found else "incident"),
        state="open",
        opened_at=at(time.time()),
        opened_by=client.metadata.user,
        alert_ids=tuple(a.id for a in found),
    )
    client.metadata.add_incident(incident)
    for alert in found:  # taking an alert on is acting on it
        if alert.state is AlertState.OPEN:
            why = f"incident {incident.id[:8]} opened"
            client.metadata.decide_alert(alert.id, AlertState.ACKED, why)
    return incident


def get(client: Client, incident_id: str) -> Incident:
    return client.metadata.incident(incident_id)


def alerts_of(client: Client, incident: Incident) -> list[Alert]:
    found = {a.id: a for a in client.metadata.alerts(ids=incident.alert_ids)}
    return [found[a] for a in incident.alert_ids if a in found]


def events_of(client: Client, incident: Incident) -> list[Event]:
    """What was recorded about the incident itself: opened, responses, closed."""
    return client.metadata.list_events(subject=("incident", incident.id))


def span(
    client: Client, incident: Incident, alerts: list[Alert] | None = None
) -> tuple[float, float]:
    """The time the incident's alerts cover (or the day before it opened, without any);
    ``alerts``: its alerts, when already read."""
    found = alerts_of(client, incident) if alerts is None else alerts
    if not found:
        opened = incident.opened_at.timestamp()
        return opened - LOOKBACK, opened
    return (
        min(a.window_start.timestamp() for a in found),
        max(a.window_end.timestamp() for a in found),
    )


def timeline(
    client: Client,
    incident: Incident,
    alerts: list[Alert] | None = None,
    events: list[Event] | None = None,
) -> list[Moment]:
    """The changes to the model from a day before its alerts, its alerts' decisions and
    the responses, oldest first (``alerts`` and ``events``: the incident's own, when
    already read)."""
    start, _ = span(client, incident, alerts)
    end = incident.closed_at or at(time.time())
    moments = []
    for change in changes(client, at(start - LOOKBACK), end, incident.model):
        subject = change["subject"].split(":", 1)[1]
        if change["action"].startswith("alert.") and not any(
            a.startswith(subject) for a in incident.alert_ids
        ):
            continue  # another alert of the model
        if change["action"].startswith("incident.") and (
            change["action"] == "incident.response" or not incident.id.startswith(subject)
        ):
            continue  # responses come with their results below
        moments.append(_moment(change))
    for event in events_of(client, incident) if events is None else events:
        if event.action == "incident.response":
            moments.append(
                Moment(
                    event.at, event.action, _response_text(event.details, event.reason), event.actor
                )
            )
    return sorted(moments, key=lambda m: m.at)


def _moment(change: dict[str, Any]) -> Moment:
    details = change["details"]
    text = change["reason"] or ""
    if change["action"] in ("model.alias_moved", "model.alias_forced"):
        before, after = details.get("from"), details.get("to")
        moved = f"{f'v{before}' if before else 'none'} -> {f'v{after}' if after else 'none'}"
        text = f"{details.get('name')}@{details.get('alias')}: {moved}" + (
            f" ({text})" if text else ""
        )
    elif change["action"] == "dataset.logged":
        text = f"{details.get('name')} v{details.get('version')} ({details.get('rows')} rows)"
    elif change["action"] == "model.logged":
        text = f"{details.get('name')} v{details.get('version')} registered"
    return Moment(datetime.fromisoformat(change["at"]), change["action"], text, change["actor"])


def _response_text(details: dict[str, Any], reason: str | None) -> str:
    result = details.get("result", "")
    return f"{details.get('action')}: {result}{' (' + reason + ')' if reason else ''}"


def record_response(
    client: Client, incident: Incident, action: str, result: str, details: dict[str, Any],
    why: str | None,
) -> None:  # fmt: skip
    client.metadata.record_event(
        "incident.response", ("incident", incident.id), why,
        {"action": action, "result": result, "model": incident.model, **details},
    )  # fmt: skip


def close(client: Client, incident_id: str, resolution: str | None) -> Incident:
    if not resolution or not resolution.strip():
        raise InvalidInputError(
            "Say how it was resolved: prodml incidents close ID --why 'rolled back; upstream fixed'"
        )
    return client.metadata.close_incident(incident_id, resolution.strip())


def listing(client: Client, model: str | None, state: str | None) -> list[Incident]:
    if state not in (None, "open", "closed"):
        raise InvalidInputError(f"Incident state is open or closed, not {state!r}.")
    return client.metadata.incidents(model, state)
