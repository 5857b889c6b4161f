"""Statistical checks a staged rollout uses to judge a candidate against the champion.

Every check turns live-traffic evidence into one of three verdicts: ``pass`` when the whole
confidence interval is within the limit, ``fail`` when it is wholly past it, ``inconclusive``
otherwise -- so too little data is never a pass. For one look, shares use Wilson score
intervals, a p99 an order-statistic (binomial) interval, everything else a seeded, vectorised
bootstrap.

The controller looks at a step again on every tick and acts on the first verdict, so it
passes ``planned`` (the step's ``min_requests``; ``min_labels`` for label metrics) and every
interval becomes a confidence sequence (``prodml.deploy.sequential``): the chance that a
check ever wrongly fails or wrongly passes during a step stays within ``1 - confidence``
however often it is looked at. Shares and the p99's order statistics use the beta-binomial
mixture (exact on any number of rows); bootstrap intervals are widened to the normal-mixture
boundary at their row count (asymptotic). The price is width: at ``planned`` rows an
interval is about 1.5 times as wide as one look's at 95%, and on few rows wider still.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from prodml.deploy import intervals
from prodml.deploy.intervals import Bounds, p99
from prodml.errors import InvalidInputError
from prodml.evaluate.bootstrap import Resampler, interval
from prodml.predict import outputs

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
MIN_LATENCIES = 100  # per side, for the p99 ratio
MIN_PAIRS = 50  # for the output distance
METRICS = outputs.METRICS


@dataclass(frozen=True)
class Check:
    """One judged check: its verdict, the figures behind it and a one-line reason."""

    name: str
    verdict: str
    value: float | None
    low: float | None
    high: float | None
    limit: float | None
    rows: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        for key in ("value", "low", "high", "limit"):
            row[key] = _rounded(row[key])
        return row


def error_rate(
    errors: int,
    requests: int,
    limit: float,
    confidence: float = 0.95,
    planned: int | None = None,
) -> Check:
    """The candidate's share of failed requests against ``limit``. ``planned`` (here and
    below): judge by a confidence sequence tightest at that many rows (see above)."""
    _check_confidence(confidence)
    if not 0 <= errors <= requests:
        raise InvalidInputError(f"errors ({errors}) must be between 0 and requests ({requests})")
    if requests == 0:
        return _undecided("error_rate", "no requests yet", 0, limit)
    bounds = intervals.share(errors, requests, confidence, planned, limit)
    rate = errors / requests
    return _judged("error_rate", "error rate", _pct, rate, bounds, limit, requests, "requests")


def p99_ms(
    latencies_ms: np.ndarray,
    limit_ms: float,
    confidence: float = 0.95,
    planned: int | None = None,
) -> Check:
    """The candidate's p99 latency against ``limit_ms``; a few hundred requests bound it."""
    _check_confidence(confidence)
    ordered = np.sort(outputs.finite(latencies_ms))
    if not len(ordered):
        return _undecided("p99_ms", "no latencies yet", 0, limit_ms)
    bounds = intervals.order_bounds(ordered, confidence, planned)
    value = p99(ordered)
    return _judged("p99_ms", "p99", _ms, value, bounds, limit_ms, len(ordered), "requests")


def p99_ratio(
    candidate_ms: np.ndarray,
    baseline_ms: np.ndarray,
    limit: float,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 400,
    planned: int | None = None,
) -> Check:
    """Candidate p99 over champion p99, each sample bootstrapped on its own (a sequence
    widens the interval of the log ratio, which keeps it positive)."""
    _check_confidence(confidence)
    cand, base = np.sort(outputs.finite(candidate_ms)), np.sort(outputs.finite(baseline_ms))
    rows, unit = len(cand) + len(base), f"requests ({len(cand)} candidate, {len(base)} champion)"
    value = p99(cand) / p99(base) if len(cand) and len(base) and p99(base) > 0 else None
    if min(len(cand), len(base)) < MIN_LATENCIES or value is None:
        reason = f"{rows} {unit}; need {MIN_LATENCIES} of each and a champion p99 above 0 ms"
        return _undecided("p99_ratio", reason, rows, limit, value)
    generator = np.random.default_rng(seed)
    draws = intervals.p99_draws(cand, resamples, generator)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(draws / intervals.p99_draws(base, resamples, generator))
    fewest = min(len(cand), len(base))
    low, high = intervals.widened(
        math.log(value) if value > 0 else None, interval(logs, confidence), fewest,
        confidence, planned,
    )  # fmt: skip
    bounds = (_exp(low), _exp(high))
    return _judged("p99_ratio", "p99 ratio", _times, value, bounds, limit, rows, unit)


def agreement(
    agree: np.ndarray, minimum: float, confidence: float = 0.95, planned: int | None = None
) -> Check:
    """Share of paired requests where both models answered the same, against ``minimum``."""
    _check_confidence(confidence)
    flags = outputs.finite(agree)
    if not len(flags):
        return _undecided("agreement", "no paired requests yet", 0, minimum)
    same, rows = int(np.count_nonzero(flags)), len(flags)
    bounds = intervals.share(same, rows, confidence, planned, minimum)
    share = same / rows
    return _judged("agreement", "agreement", _pct, share, bounds, minimum, rows, "pairs", True)


def distance(
    candidate: np.ndarray,
    baseline: np.ndarray,
    limit: float,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 200,
    planned: int | None = None,
) -> Check:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the two models' output distributions
    on the same requests. The plug-in estimate is biased upward (two samples of one distribution
    differ), so value and interval are bootstrap bias-corrected, on the divergence scale."""
    _check_confidence(confidence)
    cand, base = outputs.paired(candidate, baseline)
    rows = len(cand)
    if rows < MIN_PAIRS:
        return _undecided("distance", f"{rows} paired outputs of {MIN_PAIRS}", rows, limit)
    counts = outputs.one_hot(cand, base)
    k = counts.shape[1] // 2
    resampler = Resampler.make(rows, resamples, confidence, seed)
    totals = resampler.totals(counts, np.arange(rows))
    draws = resampler.replicates(totals, lambda t: outputs.jsd(t, k))
    plug_in = float(outputs.jsd(counts.sum(axis=0, keepdims=True), k)[0])
    bias = float(np.nanmean(draws)) - plug_in  # the bootstrap's estimate of the plug-in's bias
    corrected = plug_in - bias
    bounds = resampler.interval(draws - 2 * bias)  # the draws carry the bias twice
    low, high = intervals.widened(corrected, bounds, rows, confidence, planned)
    value, low, high = np.sqrt(np.clip([corrected, _nan(low), _nan(high)], 0.0, 1.0))
    return _judged("distance", "JS distance", _num, value, (low, high), limit, rows, "pairs")


def metric_difference(
    y_true: np.ndarray,
    candidate: np.ndarray,
    baseline: np.ndarray,
    metric: str,
    max_drop: float,
    confidence: float = 0.95,
    min_labels: int = 100,
    seed: int = 0,
    resamples: int = 1000,
    planned: int | None = None,
) -> Check:
    """How much worse the candidate scores than the champion on the same labelled requests:
    pass only when the whole interval is within ``max_drop`` (a drop observed past it but
    not certain is inconclusive, as is any interval still reaching past it)."""
    if metric not in METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}; known metrics: {', '.join(METRICS)}")
    _check_confidence(confidence)
    y, cand, base = outputs.paired(y_true, candidate, baseline)
    name, rows = f"metric:{metric}", len(y)
    scores = np.column_stack(
        [outputs.per_row(metric, y, cand), outputs.per_row(metric, y, base), np.ones(rows)]
    )
    value = float(outputs.drop(metric, scores.sum(axis=0, keepdims=True))[0]) if rows else None
    if rows < min_labels:
        return _undecided(name, f"{rows} labels of {min_labels}", rows, max_drop, value)
    resampler = Resampler.make(rows, resamples, confidence, seed)
    totals = resampler.totals(scores, np.arange(rows))
    draws = resampler.replicates(totals, lambda t: outputs.drop(metric, t))
    bounds = intervals.widened(value, resampler.interval(draws), rows, confidence, planned)
    return _judged(name, f"{metric} drop", _num, value, bounds, max_drop, rows, "labels")


def combine(checks: Sequence[Check]) -> str:
    """FAIL if any check fails, else INCONCLUSIVE if any is (or there are none), else PASS."""
    verdicts = {check.verdict for check in checks}
    if FAIL in verdicts:
        return FAIL
    return INCONCLUSIVE if not verdicts or INCONCLUSIVE in verdicts else PASS


# --- verdicts and reasons -------------------------------------------------------------------

_PHRASES = {
    (PASS, False): "certainly within",
    (FAIL, False): "certainly above",
    (PASS, True): "certainly at or above",
    (FAIL, True): "certainly below",
}


def _verdict(low: float | None, high: float | None, limit: float, at_least: bool) -> str:
    if at_least:  # a minimum: pass when the whole interval is at or above it
        if low is not None and low >= limit:
            return PASS
        return FAIL if high is not None and high < limit else INCONCLUSIVE
    if high is not None and high <= limit:
        return PASS
    return FAIL if low is not None and low > limit else INCONCLUSIVE


def _judged(
    name: str,
    label: str,
    show: Callable[[float], str],
    value: float | None,
    bounds: Bounds,
    limit: float,
    rows: int,
    unit: str,
    at_least: bool = False,
) -> Check:
    """A check whose verdict follows from where the interval lies against the limit."""
    value, low, high = _number(value), _number(bounds[0]), _number(bounds[1])
    verdict = _verdict(low, high, limit, at_least)
    figures = f"{_shown(value, show)} [{_shown(low, show)}, {_shown(high, show)}]"
    phrase = _PHRASES.get((verdict, at_least), "not certain yet")
    reason = f"{label} {figures} on {rows} {unit}, limit {show(limit)}: {phrase}"
    return Check(name, verdict, value, low, high, limit, rows, reason)


def _undecided(
    name: str, reason: str, rows: int, limit: float, value: float | None = None
) -> Check:
    return Check(name, INCONCLUSIVE, _number(value), None, None, limit, rows, reason)


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _rounded(x: float | None) -> float | None:
    x = _number(x)
    return None if x is None else float(f"{x:.6g}")


def _shown(x: float | None, show: Callable[[float], str]) -> str:
    return "unbounded" if x is None else show(x)


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _ms(x: float) -> str:
    return f"{x:.4g} ms"


def _times(x: float) -> str:
    return f"{x:.3g}x"


def _num(x: float) -> str:
    return f"{x:.3g}"


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must be between 0 and 1, not {confidence}")


def _exp(x: float | None) -> float | None:
    return None if x is None else math.exp(x)


def _nan(x: float | None) -> float:
    return math.nan if x is None else x
