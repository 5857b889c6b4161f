"""How each SLO of a monitor stands now, and how much of its error budget is left.

An SLO's value is read from the stored windows over its span (``over``, or the
latest window when it has none), ending with the newest evaluated window: rates
and label metrics pooled by their rows, latency quantiles (which do not pool) as
the slowest window's. The *error budget* is the shortfall the objective allows:
``failure_rate <= 0.01`` allows 1% of requests to fail, ``accuracy >= 0.9`` allows
10% of answers to be wrong. What is left is the unused share of it, from 1 (no
shortfall at all) to 0 (the objective is breached): ``1 - value / max`` below a
maximum, ``(value - min) / (1 - min)`` above a minimum share, and for other minima
the distance to the bound relative to the value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prodml.client import Client
from prodml.monitor import quality
from prodml.monitor.spec import MonitorSpec, Slo

SHARES = ("accuracy",)  # metrics bounded by 1: their budget is the distance to 1
QUANTILES = ("p50_ms", "p99_ms")


@dataclass(frozen=True, kw_only=True)
class SloStatus:
    model: str
    name: str
    objective: str  # e.g. "p99_ms <= 50.0"
    span: float  # seconds the value covers
    value: float | None  # None: no window in the span has the figure
    size: int  # requests or labels the value is on
    met: bool | None  # None when there is no value
    budget_left: float | None  # 0 (breached) to 1 (untouched); None when there is no value


def status(client: Client, spec: MonitorSpec) -> list[SloStatus]:
    """Every SLO of ``spec`` as of its newest evaluated window."""
    return [_one(client, spec, slo) for slo in spec.slos]


def _one(client: Client, spec: MonitorSpec, slo: Slo) -> SloStatus:
    kind = "labels" if slo.from_labels else "traffic"
    latest = client.metadata.windows(spec.model, kind, limit=1)
    span = max(slo.over, spec.window)
    value: float | None = None
    size = 0
    if latest:
        end = latest[0].end
        windows = client.metadata.windows(spec.model, kind, since=end - span - 1e-6)
        stats = [w.stats for w in windows if w.end <= end]
        found = _labels(slo, stats) if slo.from_labels else _traffic(slo, stats)
        if found is not None:
            value, size = found
    left = None if value is None else budget_left(slo, value)
    return SloStatus(
        model=spec.model,
        name=slo.name,
        objective=slo.objective,
        span=span,
        value=value,
        size=size,
        met=None if value is None else not slo.breached(value),
        budget_left=left,
    )


def _traffic(slo: Slo, windows: list[dict[str, Any]]) -> tuple[float, int] | None:
    busy = [w for w in windows if w.get("rows") and w.get(slo.metric) is not None]
    if not busy:
        return None
    if slo.metric in QUANTILES:
        worst = max(float(w[slo.metric]) for w in busy)
        return worst, sum(int(w.get("answered", w["rows"])) for w in busy)
    rows = sum(int(w["rows"]) for w in busy)
    return sum(float(w[slo.metric]) * int(w["rows"]) for w in busy) / rows, rows


def _labels(slo: Slo, windows: list[dict[str, Any]]) -> tuple[float, int] | None:
    pair = {"accuracy": "error_rate", "error_rate": "accuracy"}.get(slo.metric)
    same = [w for w in windows if w.get("metric") in (slo.metric, pair)]
    if not same:
        return None
    measured = same[0]["metric"]
    pooled = quality.pooled([w for w in same if w["metric"] == measured], measured)
    if pooled is None:
        return None
    value, size = pooled
    return (1.0 - value if measured != slo.metric else value), size


def budget_left(slo: Slo, value: float) -> float:
    """The unused share of the error budget: 1 untouched, 0 spent or breached."""
    shares = []
    if slo.max is not None:
        shares.append(1.0 - value / slo.max if slo.max > 0 else float(value <= 0))
    if slo.min is not None:
        if slo.metric in SHARES and slo.min < 1:
            shares.append((value - slo.min) / (1.0 - slo.min))
        else:
            shares.append((value - slo.min) / abs(value) if value else float(slo.min <= 0))
    return min(1.0, max(0.0, min(shares)))
