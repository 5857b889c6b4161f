"""The incident SDK: open, follow, respond to and close incidents; write the report.

Responses that change what serves (rollback, fallback) need a deployer token while
the store's auth is on, as the same actions do outside an incident."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prodml import times
from prodml.client import Client, default_client
from prodml.domain.monitoring import Incident


def open_incident(
    alerts: list[str] | str | None = None,
    name: str | None = None,
    title: str | None = None,
    client: Client | None = None,
) -> Incident:
    """Open an incident over one model's alerts (ids or prefixes), or over a model."""
    from prodml.monitor import incidents

    ids = [alerts] if isinstance(alerts, str) else list(alerts or [])
    return incidents.open_incident(client or default_client(), ids, name, title)


def list_incidents(
    name: str | None = None, state: str | None = None, client: Client | None = None
) -> list[Incident]:
    from prodml.monitor import incidents

    return incidents.listing(client or default_client(), name, state)


def get_incident(incident_id: str, client: Client | None = None) -> dict[str, Any]:
    """The incident, its alerts and its timeline (oldest first)."""
    from prodml.monitor import incidents

    client = client or default_client()
    incident = incidents.get(client, incident_id)
    return {
        "incident": incident,
        "alerts": incidents.alerts_of(client, incident),
        "timeline": incidents.timeline(client, incident),
    }


def close_incident(incident_id: str, why: str, client: Client | None = None) -> Incident:
    from prodml.monitor import incidents

    return incidents.close(client or default_client(), incident_id, why)


def respond_to_incident(
    incident_id: str,
    action: str,
    why: str | None = None,
    client: Client | None = None,
    **options: Any,
) -> str:
    """Take one response and record it on the incident; what it did, in words.

    ``rollback``; ``fallback`` (``to``: a version, default the ``fallback`` alias);
    ``retrain`` (``command``: the training command line); ``add-failures``
    (``valset``: the validation set, ``label_as``: its label column, ``where``: an SQL
    condition for "failing", default a wrong answer)."""
    from prodml.monitor import responses

    return responses.respond(client or default_client(), incident_id, action, why, **options)


def incident_report(
    incident_ids: list[str] | None = None,
    since: datetime | str | None = None,
    format: str = "markdown",
    path: str | Path | None = None,
    client: Client | None = None,
) -> str:
    """A report of the given incidents (or of every incident and alert since ``since``,
    e.g. the start of an on-call shift, or ``12h``) as Markdown or HTML; written to ``path``
    if given."""
    from prodml.monitor import report

    start = times.moment(since, "--since")
    text = report.write(client or default_client(), incident_ids or [], start, format)
    if path is not None:
        Path(path).write_text(text)
    return text
