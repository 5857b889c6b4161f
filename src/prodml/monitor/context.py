"""What changed in and just before a window: the context an alert carries, and the
answer to "what changed since yesterday" on its own (``prodml changes``).

Changes are read from the event log (alias moves, rollout steps, model versions,
dataset versions, validation-set growth, monitor configuration, guardrails), so
they are the same facts every other view shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prodml.client import Client
from prodml.domain.lineage import Event
from prodml.domain.monitoring import Signal, at
from prodml.errors import InvalidInputError
from prodml.monitor.spec import MonitorSpec
from prodml.sql_text import identifier, literal

CHANGES = ("model.", "rollout.", "dataset.logged", "valset.", "suite.", "monitor.", "alert.",
           "incident.")  # fmt: skip
LOOKBACK = 86400.0  # changes up to a day before the window are shown with it
SHOWN = 25


def changes(
    client: Client, since: datetime, until: datetime | None = None, model: str | None = None
) -> list[dict[str, Any]]:
    """State changes between ``since`` and ``until`` (oldest first); with ``model``,
    those about that model and those about data (which any model may read)."""
    events = client.metadata.list_events(since=since, until=until, actions=CHANGES)
    rollouts = {rollout.id: rollout.model for rollout in client.metadata.rollouts()}
    out = []
    for event in events:
        if not event.action.startswith(CHANGES):
            continue
        about = _model_of(event, rollouts)
        if model is not None and about not in (model, None):
            continue
        out.append(_change(event, about))
    return out


def _model_of(event: Event, rollouts: dict[str, str]) -> str | None:
    if event.subject_kind == "rollout":
        return rollouts.get(event.subject_id)
    for key in ("name", "model"):
        value = event.details.get(key)
        if isinstance(value, str) and event.action.startswith(("model.", "monitor.", "alert.",
                                                                "incident.")):  # fmt: skip
            return value
    if event.action.startswith("monitor."):
        return event.subject_id
    return None


def _change(event: Event, model: str | None) -> dict[str, Any]:
    details = {k: v for k, v in event.details.items() if k not in ("spec",)}
    return {
        "at": event.at.astimezone(UTC).isoformat(),
        "action": event.action,
        "model": model,
        "subject": f"{event.subject_kind}:{event.subject_id[:12]}",
        "actor": event.actor,
        "reason": event.reason,
        "details": details,
    }


def for_window(
    client: Client,
    model: str,
    start: float,
    end: float,
    stats: dict[str, Any],
    signals: list[Signal],
    samples: list[str],
    slice_by: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The context stored on a new alert."""
    before = [
        c
        for c in changes(client, at(start - LOOKBACK), at(end), model)
        if not c["action"].startswith(("alert.", "incident."))
    ]
    return {
        "window": {"start": at(start).isoformat(), "end": at(end).isoformat()},
        "versions_served": stats.get("versions", []),
        "processes": stats.get("sources", []),
        "changes": before[-SHOWN:],
        "dataset_versions": [
            f"{c['details'].get('name')}@{c['details'].get('version')}"
            for c in before
            if c["action"] == "dataset.logged"
        ],
        "rollout_steps": [c for c in before if c["action"].startswith("rollout.")][-SHOWN:],
        "config": _config(client, model),
        "samples": {
            "request_ids": samples,
            "query": sample_query(model, start, end, signals, slice_by=slice_by),
        },
    }


def _config(client: Client, model: str) -> dict[str, Any]:
    text = client.metadata.monitor_specs(model).get(model)
    if text is None:
        return {}
    spec = MonitorSpec.from_json(text)
    return {"window_s": spec.window, "history": spec.history, "sensitivity": spec.sensitivity,
            "dedupe_s": spec.dedupe, "slos": [s.name for s in spec.slos]}  # fmt: skip


def sample_query(
    model: str,
    start: float,
    end: float,
    signals: list[Signal],
    limit: int = 20,
    slice_by: Sequence[str] | None = None,
) -> str:
    """SQL for ``prodml predictions query`` that shows rows of the affected slice
    (``slice_by``: the monitor's columns whose values are slices, ``column=value``).
    Column names and slice values come from requests, so each is quoted
    (``sql_text``); a name SQL cannot hold is left out rather than failing the alert."""
    columns = []
    for signal in signals:
        if signal.monitor == "inputs" and signal.subject != "(all inputs)":
            columns.extend(_field(signal.subject))
    shown = ", ".join(dict.fromkeys(["request_id", "ts", "version", *columns[:6], "output"]))
    where = [
        f"model = {literal(model)}",
        f"ts >= TIMESTAMPTZ {literal(at(start).isoformat())}",
        f"ts < TIMESTAMPTZ {literal(at(end).isoformat())}",
    ]
    slices = [_by_value(s.subject, slice_by) for s in signals if s.monitor == "quality"]
    found = [pair for pair in slices if pair is not None]
    if found:
        column, value = found[0]
        where.extend(f"{field}::VARCHAR = {literal(value)}" for field in _field(column))
    failing = [s for s in signals if s.monitor == "operations" and s.subject == "failure_rate"]
    if failing:
        where.append("status <> 'ok'")
    table = "labelled" if any(s.monitor == "quality" for s in signals) else "predictions"
    if table == "labelled":
        shown += ", label"
    return f"SELECT {shown} FROM {table} WHERE {' AND '.join(where)} LIMIT {int(limit)}"


def _by_value(subject: str, slice_by: Sequence[str] | None) -> tuple[str, str] | None:
    """(column, value) of a slice named ``column=value``; the column is one of
    ``slice_by`` (the longest that fits: a column name may hold "=" too), or without
    them the text before the first "="."""
    if slice_by is None:
        column, equals, value = subject.partition("=")
        return (column, value) if equals else None
    fits = [c for c in slice_by if subject.startswith(f"{c}=")]
    if not fits:
        return None
    column = max(fits, key=len)
    return column, subject[len(column) + 1 :]


def _field(name: str) -> list[str]:
    """``inputs."name"``, or nothing for a name SQL cannot hold."""
    try:
        return [f"inputs.{identifier(name)}"]
    except InvalidInputError:
        return []
