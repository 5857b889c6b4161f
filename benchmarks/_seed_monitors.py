"""A month of monitoring: hourly traffic and label windows for each monitored model,
an alert about once a day per model (most of them decided, the recent ones open), and
a few incidents over them, each row copied from what the demo's monitor stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from _seed_log import LABELLED
from _seed_loop import DAY, DAYS, HOUR, Loop, event, insert, new_id, rows

from prodml.stores import schema

ALERT_EVERY = 23  # hours between alerts of one model (drifts across the day)
INCIDENT_EVERY = 10  # alerts per incident
KINDS = ("traffic", "labels")


def seed_monitors(
    loop: Loop, models: list[str], hours: dict[tuple[str, float], tuple[str, int]]
) -> None:
    """Hourly windows over the month; a traffic window carries the profile of that hour's
    logged rows (``hours``: (model, start) -> (profile digest, rows))."""
    templates = {kind: _windows(loop, kind) for kind in KINDS}
    alert = max(rows(loop.connection, schema.alerts), key=lambda a: a["created_at"])
    incident = max(rows(loop.connection, schema.incidents), key=lambda i: i["opened_at"])
    spec = max(rows(loop.connection, schema.monitors), key=lambda m: m["updated_at"])
    loop.connection.execute(schema.monitors.delete())
    monitors, windows, alerts, incidents = [], [], [], []
    for model in models:
        document = {**json.loads(spec["spec"]), "model": model, "window": HOUR, "since": loop.start}
        monitors.append(
            {
                **spec,
                "model": model,
                "spec": json.dumps(document, sort_keys=True),
                "updated_at": loop.start,
            }
        )
        raised: list[dict[str, Any]] = []
        for hour in range(DAYS * 24):
            start = loop.start + hour * HOUR
            alert_id = None
            if hour % ALERT_EVERY == ALERT_EVERY - 1:
                made = _alert(loop, alert, model, start, len(raised))
                raised.append(made)
                alert_id = made["id"]
            for kind in KINDS:
                found = templates[kind][hour % len(templates[kind])]
                stats = {**json.loads(found["stats"])}
                digest, count = hours.get((model, start), (None, 0))
                count = count if kind == "traffic" else round(count * LABELLED)
                stats["rows" if kind == "traffic" else "labelled"] = count
                windows.append(
                    {
                        **found,
                        "model": model,
                        "start": start,
                        "end": start + HOUR,
                        "rows": count,
                        "profile": (digest or None) if kind == "traffic" else None,
                        "stats": json.dumps(stats),
                        "alert_id": alert_id if kind == "traffic" else None,
                        "evaluated_at": start + HOUR + 60,
                    }
                )
        for first in range(0, len(raised) - INCIDENT_EVERY + 1, INCIDENT_EVERY):
            incidents.append(
                _incident(
                    loop,
                    incident,
                    model,
                    raised[first : first + 3],
                    last=first + 2 * INCIDENT_EVERY > len(raised),
                )
            )
        alerts.extend(raised)
    insert(loop.connection, schema.monitors, monitors)
    insert(loop.connection, schema.monitor_windows, windows)
    insert(loop.connection, schema.alerts, alerts)
    insert(loop.connection, schema.incidents, incidents)


def _windows(loop: Loop, kind: str) -> list[dict[str, Any]]:
    found = rows(
        loop.connection,
        schema.monitor_windows,
        schema.monitor_windows.c.kind == kind,
        schema.monitor_windows.c.rows > 0,
    )
    return sorted(found, key=lambda w: w["start"]) or rows(
        loop.connection, schema.monitor_windows, schema.monitor_windows.c.kind == kind
    )


def _alert(
    loop: Loop, template: dict[str, Any], model: str, start: float, number: int
) -> dict[str, Any]:
    """An alert on one hourly window: its context's times and sample query moved there."""
    end, created = start + HOUR, start + HOUR + 90
    context = json.loads(template["context"])
    old = (template["window_start"], template["window_end"])
    text = json.dumps(context)
    for before, after in zip(old, (start, end), strict=True):
        text = text.replace(_iso(before)[:19], _iso(after)[:19])
    text = text.replace(json.dumps(template["model"]), json.dumps(model)).replace(
        f"'{template['model']}'", f"'{model}'"
    )
    recent = start > loop.now - 3 * DAY
    state = "open" if recent else ("ignored" if number % 4 == 3 else "acked")
    made = {
        **template,
        "id": new_id(),
        "model": model,
        "window_start": start,
        "window_end": end,
        "windows": 1 + number % 3,
        "created_at": created,
        "context": text,
        "state": state,
        "incident_id": None,
    }
    made.update(decided_by=None, decided_at=None, why=None)
    details = {
        **json.loads(loop.event_of["alert.raised"]["details"]),
        "model": model,
        "window_start": _iso(start),
    }
    loop.events.append(
        {
            **event(loop.event_of["alert.raised"], created, made["id"], details),
            "reason": made["title"],
        }
    )
    if state != "open":
        decided = created + 1800
        why = "real: upstream change" if state == "acked" else "expected: a holiday's traffic"
        made.update(decided_by="bench", decided_at=decided, why=why)
        decision = loop.event_of.get("alert.acked") or loop.event_of["alert.raised"]
        loop.events.append(
            {
                **event(decision, decided, made["id"], json.loads(decision["details"])),
                "action": f"alert.{state}",
                "reason": why,
            }
        )
    return made


def _incident(
    loop: Loop, template: dict[str, Any], model: str, over: list[dict[str, Any]], last: bool
) -> dict[str, Any]:
    incident_id = new_id()
    opened = over[0]["created_at"] + 600
    for alert in over:
        alert["incident_id"] = incident_id
    title = f"{model}: {over[0]['title']}"
    alert_ids = [a["id"] for a in over]
    loop.events.append(
        {
            **event(
                loop.event_of["incident.opened"],
                opened,
                incident_id,
                {"model": model, "alerts": alert_ids},
            ),
            "reason": title,
        }
    )
    made = {
        **template,
        "id": incident_id,
        "model": model,
        "title": title,
        "opened_at": opened,
        "alert_ids": json.dumps(alert_ids),
        "state": "open" if last else "closed",
    }
    if last:
        made.update(closed_at=None, resolution=None)
    else:
        closed = opened + 6 * HOUR
        made.update(closed_at=closed, resolution="upstream fixed; failures kept")
        closing = loop.event_of["incident.closed"]
        loop.events.append(
            {
                **event(closing, closed, incident_id, json.loads(closing["details"])),
                "reason": made["resolution"],
            }
        )
    return made


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
