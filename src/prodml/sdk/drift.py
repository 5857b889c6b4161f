"""Drift over time: each monitor window's inputs against the monitor's baseline, and
the shape of its predictions (the dashboard's monitoring charts)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prodml import times
from prodml.client import Client, default_client
from prodml.errors import InvalidInputError

if TYPE_CHECKING:
    from prodml.monitor.drift_series import DriftSeries

MAX_WINDOWS = 2000


def monitor_drift(
    name: str,
    since: datetime | str | None = None,
    limit: int = 168,
    client: Client | None = None,
) -> DriftSeries:
    """The last ``limit`` traffic windows of model ``name``'s monitor (after ``since``):
    per input column its distance from the baseline (0 the same, 1 no overlap), and
    the prediction's mean and quantiles per window."""
    from prodml.monitor import drift_series, runner

    if not 0 < limit <= MAX_WINDOWS:
        raise InvalidInputError(f"Show 1 to {MAX_WINDOWS} windows, not {limit}.")
    client = client or default_client()
    (spec,) = runner.specs(client, name)
    after = times.moment(since, "--since")
    return drift_series.series(client, spec, after.timestamp() if after else None, limit)
