"""Feature helpers shared by the steps (a change here reruns the steps that use it)."""

from __future__ import annotations

import pandas as pd

FEATURES = ["hour", "month", "weekday", "distance", "dep_delay", "carrier", "origin"]


def hour_of_day(dep_time: pd.Series) -> pd.Series:
    """Scheduled-ish departure hour from ``dep_time`` written as HHMM."""
    return (dep_time // 100).clip(0, 23).astype("int64")


def top_carriers(carrier: pd.Series, keep: int) -> pd.Series:
    """The ``keep`` busiest carriers as codes 0..keep-1, the rest as ``keep``."""
    busiest = carrier.value_counts().index[:keep]
    codes = {name: code for code, name in enumerate(busiest)}
    return carrier.map(codes).fillna(keep).astype("int64")
