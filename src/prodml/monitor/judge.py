"""What is unusual in a window, judged against the monitor's own past windows.

Inputs and the prediction go through the validation of batches (schema, bounds and
drift, calibrated on the profiles of past windows); operating figures and label
metrics per slice through the same calibration (``data.calibration.judge``), each
on the scale where its window-to-window variation is roughly normal, never below
its own sampling noise, and never for a change too small to matter."""

from __future__ import annotations

import math
from typing import Any

from prodml.data.calibration import ALPHA, LOG, SHARE, judge
from prodml.data.profile import TableProfile
from prodml.data.validation import validate_profiles
from prodml.domain.monitoring import AlertClass, Signal
from prodml.domain.validation import Finding
from prodml.monitor.spec import MonitorSpec, Slo
from prodml.monitor.windows import PREDICTION

# Traffic volume follows the users, and a log repeats popular requests: neither is news
# about the inputs (volume and failures are the operations monitor's business).
NOT_NEWS = ("row_count", "duplicate_share")
SHARES = {"failure_rate": "failed requests", "fallback_rate": "answers from a fallback"}
LATENCIES = {"p50_ms": "median latency", "p99_ms": "p99 latency"}


def inputs(spec: MonitorSpec, batch: TableProfile, history: list[TableProfile]) -> list[Signal]:
    result = validate_profiles(
        batch, history, f"{len(history)} past windows", alpha=spec.sensitivity["inputs"]
    )
    return [_from_finding(f) for f in result.findings if f.statistic not in NOT_NEWS]


def _from_finding(finding: Finding) -> Signal:
    column = finding.column or "(all inputs)"
    monitor = "predictions" if column in (PREDICTION, f"model_{PREDICTION}") else "inputs"
    return Signal(
        monitor=monitor,
        subject=column,
        statistic=finding.statistic,
        kind=AlertClass(finding.kind.value),
        observed=finding.observed,
        expected=finding.expected,
        message=finding.message,
        score=finding.score,
    )


def operations(
    spec: MonitorSpec, stats: dict[str, Any], history: list[dict[str, Any]]
) -> list[Signal]:
    alpha = spec.sensitivity["operations"]
    tests = max(1, round(4 * ALPHA / alpha))
    signals = []
    rows, answered = stats["rows"], max(stats.get("answered", 0), 1)
    for name, what in SHARES.items():
        past = [h[name] for h in history if h.get(name) is not None]
        bound = judge(past, stats[name], SHARE, 0.5 / math.sqrt(rows), 0.01, 1, tests)
        if bound.breached:
            kind = AlertClass.HARD if stats[name] >= 0.5 else AlertClass.SOFT
            signals.append(_signal("operations", name, what, stats[name], bound, kind))
    for name, what in LATENCIES.items():
        past = [h[name] for h in history if h.get(name)]
        if stats.get(name) is None or not past:
            continue
        tail = 0.01 if name == "p99_ms" else 0.5
        noise = 0.5 / math.sqrt(max(answered * tail, 1.0))
        effect = max(0.25 * sorted(past)[len(past) // 2], 1.0)
        bound = judge(past, stats[name], LOG, noise, effect, 1, tests)
        if bound.breached:
            signals.append(_signal("operations", name, what, stats[name], bound, AlertClass.SOFT))
    return signals


def quality(
    spec: MonitorSpec, stats: dict[str, Any], history: list[dict[str, Any]], least: int
) -> list[Signal]:
    """Slices whose label metric got worse than their own history."""
    slices = stats.get("slices", {})
    judged = {k: v for k, v in slices.items() if v["n"] >= spec.labels.min_labels}
    alpha = spec.sensitivity["quality"]
    tests = max(1, round(len(judged) * ALPHA / alpha))
    metric = stats["metric"]
    signals = []
    for name, now in judged.items():
        past = [h["slices"][name] for h in history if name in h.get("slices", {})]
        past = [p for p in past if p["n"] >= spec.labels.min_labels]
        if len(past) < least:
            continue
        if metric in ("accuracy", "error_rate"):
            error = [_error(metric, p["value"]) for p in past]
            observed = _error(metric, now["value"])
            bound = judge(error, observed, SHARE, 0.5 / math.sqrt(now["n"]), 0.02, 1, tests)
        else:
            error, observed = [p["value"] for p in past], now["value"]
            typical = sorted(error)[len(error) // 2]
            bound = judge(error, observed, LOG, 1 / math.sqrt(now["n"]), 0.1 * typical, 1, tests)
        if bound.breached:
            what = f"{metric} on slice {name}"
            accuracy = metric == "accuracy"
            kind = AlertClass.SOFT
            signals.append(
                _signal("quality", name, what, now["value"], bound, kind, metric, accuracy)
            )
    return signals


def _error(metric: str, value: float) -> float:
    return 1.0 - value if metric == "accuracy" else value


def slos(spec: MonitorSpec, values: dict[str, tuple[float, int]]) -> list[Signal]:
    """Breached objectives among ``values`` (SLO name: (value, sample size))."""
    signals = []
    for slo in spec.slos:
        if slo.name not in values:
            continue
        value, size = values[slo.name]
        if slo.breached(value):
            signals.append(_breach(slo, value, size))
    return signals


def _breach(slo: Slo, value: float, size: int) -> Signal:
    limit = slo.min if slo.min is not None and value < slo.min else slo.max
    assert limit is not None
    over = f"over {span(slo.over)}" if slo.over else "in the window"
    message = (
        f"SLO {slo.name} breached: {slo.metric} is {value:.4g} {over} ({size} "
        f"{'labels' if slo.from_labels else 'requests'}); objective {slo.objective}."
    )
    score = abs(value - limit) / abs(limit) + 1.0 if limit else math.inf
    return Signal(
        monitor="slo",
        subject=slo.name,
        statistic=slo.metric,
        kind=AlertClass.HARD,
        observed=value,
        expected=slo.objective,
        message=message,
        score=score,
    )


def span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _signal(
    monitor: str, subject: str, what: str, observed: float, bound: Any, kind: AlertClass,
    statistic: str | None = None, accuracy: bool = False,
) -> Signal:  # fmt: skip
    """``accuracy``: the bound was set on the error rate (1 - accuracy); say it as accuracy."""
    expected = [_round(bound.low), _round(bound.high)]
    limit = f"at most {expected[1]}"
    if accuracy and bound.high is not None:
        expected = [_round(1.0 - bound.high), None]
        limit = f"at least {expected[0]}"
    against = f"its last {bound.history} windows" if bound.history else "the first window"
    message = (
        f"The {what} is {_round(observed)}, expected {limit}: "
        f"{abs(bound.z):.1f} standard deviations from {against}."
        if math.isfinite(bound.z)
        else f"The {what} is {_round(observed)}, never seen in {against}."
    )
    return Signal(
        monitor=monitor,
        subject=subject,
        statistic=statistic or subject,
        kind=kind,
        observed=_round(observed),
        expected=expected,
        message=message,
        score=round(bound.score, 3),
    )


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return value
    return float(f"{value:.4g}")
