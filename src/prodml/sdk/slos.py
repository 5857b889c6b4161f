"""SLOs: how each model's objectives stand now and how much error budget is left."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodml.client import Client, default_client

if TYPE_CHECKING:
    from prodml.monitor.slo_status import SloStatus


def slo_status(name: str | None = None, client: Client | None = None) -> list[SloStatus]:
    """Every SLO of one model's monitor (or of all monitors) as of its newest window: its
    value over its span, whether it is met, and the share of its error budget left."""
    from prodml.monitor import slo_status as slos
    from prodml.monitor.spec import MonitorSpec

    client = client or default_client()
    declared = client.metadata.monitor_specs(name)
    return [
        status
        for text in declared.values()
        for status in slos.status(client, MonitorSpec.from_json(text))
    ]
