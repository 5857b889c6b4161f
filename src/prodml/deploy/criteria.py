"""Statistical checks a staged rollout uses to judge a candidate against the champion.

Every check turns live-traffic evidence into one of three verdicts: ``pass`` when the whole
confidence interval is within the limit, ``fail`` when it is wholly past it, ``inconclusive``
otherwise -- so too little data is never a pass. Shares use Wilson score intervals, a p99 an
order-statistic (binomial) interval, everything else a seeded, vectorised bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any

import numpy as np
from scipy import special, stats

from prodml.errors import InvalidInputError
from prodml.evaluate.bootstrap import Resampler, interval

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
QUANTILE = 0.99
BINS = 20  # numeric outputs with more distinct values are binned into this many
MIN_LATENCIES = 100  # per side, for the p99 ratio
MIN_PAIRS = 50  # for the output distance
METRICS = ("accuracy", "error_rate", "mae", "rmse", "mse")

Bounds = tuple[float | None, float | None]


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


def error_rate(errors: int, requests: int, limit: float, confidence: float = 0.95) -> Check:
    """The candidate's share of failed requests against ``limit``."""
    _check_confidence(confidence)
    if not 0 <= errors <= requests:
        raise InvalidInputError(f"errors ({errors}) must be between 0 and requests ({requests})")
    if requests == 0:
        return _undecided("error_rate", "no requests yet", 0, limit)
    bounds = _wilson(errors, requests, confidence)
    rate = errors / requests
    return _judged("error_rate", "error rate", _pct, rate, bounds, limit, requests, "requests")


def p99_ms(latencies_ms: np.ndarray, limit_ms: float, confidence: float = 0.95) -> Check:
    """The candidate's p99 latency against ``limit_ms``; a few hundred requests bound it."""
    _check_confidence(confidence)
    ordered = np.sort(_finite(latencies_ms))
    if not len(ordered):
        return _undecided("p99_ms", "no latencies yet", 0, limit_ms)
    bounds = _order_bounds(ordered, confidence)
    value = _p99(ordered)
    return _judged("p99_ms", "p99", _ms, value, bounds, limit_ms, len(ordered), "requests")


def p99_ratio(
    candidate_ms: np.ndarray,
    baseline_ms: np.ndarray,
    limit: float,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 400,
) -> Check:
    """Candidate p99 over champion p99, each sample bootstrapped on its own."""
    _check_confidence(confidence)
    cand, base = np.sort(_finite(candidate_ms)), np.sort(_finite(baseline_ms))
    rows, unit = len(cand) + len(base), f"requests ({len(cand)} candidate, {len(base)} champion)"
    value = _p99(cand) / _p99(base) if len(cand) and len(base) and _p99(base) > 0 else None
    if min(len(cand), len(base)) < MIN_LATENCIES or value is None:
        reason = f"{rows} {unit}; need {MIN_LATENCIES} of each and a champion p99 above 0 ms"
        return _undecided("p99_ratio", reason, rows, limit, value)
    generator = np.random.default_rng(seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = _p99_draws(cand, resamples, generator) / _p99_draws(base, resamples, generator)
    bounds = interval(ratios, confidence)
    return _judged("p99_ratio", "p99 ratio", _times, value, bounds, limit, rows, unit)


def agreement(agree: np.ndarray, minimum: float, confidence: float = 0.95) -> Check:
    """Share of paired requests where both models answered the same, against ``minimum``."""
    _check_confidence(confidence)
    flags = _finite(agree)
    if not len(flags):
        return _undecided("agreement", "no paired requests yet", 0, minimum)
    same, rows = int(np.count_nonzero(flags)), len(flags)
    bounds = _wilson(same, rows, confidence)
    share = same / rows
    return _judged("agreement", "agreement", _pct, share, bounds, minimum, rows, "pairs", True)


def distance(
    candidate: np.ndarray,
    baseline: np.ndarray,
    limit: float,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 200,
) -> Check:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the two models' output distributions
    on the same requests. The plug-in estimate is biased upward (two samples of one distribution
    differ), so value and interval are bootstrap bias-corrected, on the divergence scale."""
    _check_confidence(confidence)
    cand, base = _paired(candidate, baseline)
    rows = len(cand)
    if rows < MIN_PAIRS:
        return _undecided("distance", f"{rows} paired outputs of {MIN_PAIRS}", rows, limit)
    counts = _one_hot(cand, base)
    k = counts.shape[1] // 2
    resampler = Resampler.make(rows, resamples, confidence, seed)
    totals = resampler.totals(counts, np.arange(rows))
    draws = resampler.replicates(totals, lambda t: _jsd(t, k))
    plug_in = float(_jsd(counts.sum(axis=0, keepdims=True), k)[0])
    bias = float(np.nanmean(draws)) - plug_in  # the bootstrap's estimate of the plug-in's bias
    low, high = resampler.interval(draws - 2 * bias)  # the draws carry the bias twice
    value, low, high = np.sqrt(np.clip([plug_in - bias, low, high], 0.0, 1.0))
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
) -> Check:
    """How much worse the candidate scores than the champion on the same labelled requests."""
    if metric not in METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}; known metrics: {', '.join(METRICS)}")
    _check_confidence(confidence)
    y, cand, base = _paired(y_true, candidate, baseline)
    name, rows = f"metric:{metric}", len(y)
    scores = np.column_stack([_per_row(metric, y, cand), _per_row(metric, y, base), np.ones(rows)])
    value = float(_drop(metric, scores.sum(axis=0, keepdims=True))[0]) if rows else None
    if rows < min_labels:
        return _undecided(name, f"{rows} labels of {min_labels}", rows, max_drop, value)
    resampler = Resampler.make(rows, resamples, confidence, seed)
    totals = resampler.totals(scores, np.arange(rows))
    bounds = resampler.interval(resampler.replicates(totals, lambda t: _drop(metric, t)))
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


# --- intervals ----------------------------------------------------------------------------


def _wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval for a share: sound at 0 successes and on few rows."""
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p, shrink = successes / n, 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == n else min(1.0, centre + half)


def _rank(n: int) -> int:
    """1-based rank of the p99 order statistic (the inverted-CDF quantile)."""
    return max(1, math.ceil(round(QUANTILE * n, 9)))


def _p99(ordered: np.ndarray) -> float:
    return float(ordered[_rank(len(ordered)) - 1])


def _order_bounds(ordered: np.ndarray, confidence: float) -> Bounds:
    """Distribution-free: the count of observations below the true p99 is Binomial(n, 0.99),
    so x_(l) and x_(u) bracket it with the wanted coverage; too few rows leave u unbounded."""
    n, tail = len(ordered), (1 - confidence) / 2
    below = stats.binom(n, QUANTILE)
    k = int(below.ppf(tail))
    low_rank = k + 1 if below.cdf(k) <= tail else k  # largest l with P(B <= l - 1) <= tail
    high_rank = int(below.ppf(1 - tail)) + 1  # smallest u with P(B >= u) <= tail
    low = float(ordered[low_rank - 1]) if low_rank >= 1 else None
    return low, float(ordered[high_rank - 1]) if high_rank <= n else None


def _p99_draws(ordered: np.ndarray, resamples: int, generator: np.random.Generator) -> np.ndarray:
    """p99s of ``resamples`` bootstrap samples, drawn exactly without materialising them: the
    k-th smallest of n uniforms is Beta(k, n - k + 1), and maps to ordered[ceil(n * u) - 1]."""
    n = len(ordered)
    k = _rank(n)
    index = np.ceil(generator.beta(k, n - k + 1, size=resamples) * n).astype(np.int64) - 1
    return np.asarray(ordered[np.clip(index, 0, n - 1)], dtype=np.float64)


# --- outputs and labels ---------------------------------------------------------------------


def _finite(values: np.ndarray) -> np.ndarray:
    numbers = np.asarray(values, dtype=np.float64).ravel()
    return numbers[np.isfinite(numbers)]


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values), dtype=bool)
    if values.dtype.kind != "O":
        return np.zeros(len(values), dtype=bool)
    return np.array(
        [v is None or (isinstance(v, float | np.floating) and math.isnan(v)) for v in values],
        dtype=bool,
    )


def _paired(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays as 1-D arrays of one length, without rows missing (None/NaN) in any."""
    columns = [np.asarray(a) for a in arrays]
    if any(c.ndim != 1 or len(c) != len(columns[0]) for c in columns):
        shapes = ", ".join(str(c.shape) for c in columns)
        raise InvalidInputError(f"paired outputs must be 1-D and of one length, got {shapes}")
    keep = ~np.logical_or.reduce([_missing(c) for c in columns])
    return [c[keep] for c in columns]


def _is_numeric(values: np.ndarray) -> bool:
    if values.dtype.kind in "iuf":
        return True
    numeric = (isinstance(v, Real) and not isinstance(v, bool | np.bool_) for v in values)
    return values.dtype.kind == "O" and all(numeric)


def _codes(cand: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, int]:
    """Category codes of both (shape (2, n)) and their count: categories for labels and
    for numbers with few distinct values, else bins at the pooled sample's quantiles."""
    if _is_numeric(cand) and _is_numeric(base):
        pooled: np.ndarray = np.concatenate([cand, base]).astype(np.float64)
        if len(np.unique(pooled)) > BINS:
            edges = np.quantile(pooled, np.linspace(0, 1, BINS + 1))[1:-1]
            inner = np.unique(edges)
            codes = np.searchsorted(inner, pooled, side="right")
            return codes.reshape(2, -1), len(inner) + 1
    else:
        pooled = np.concatenate([cand.astype(str), base.astype(str)])
    _, codes = np.unique(pooled, return_inverse=True)
    return codes.ravel().reshape(2, -1), int(codes.max()) + 1


def _one_hot(cand: np.ndarray, base: np.ndarray) -> np.ndarray:
    """(n, 2k): each row's candidate category, then its champion category, one-hot."""
    codes, k = _codes(cand, base)
    eye = np.eye(k)
    return np.concatenate([eye[codes[0]], eye[codes[1]]], axis=1)


def _jsd(counts: np.ndarray, k: int) -> np.ndarray:
    """Base-2 Jensen-Shannon divergence per row of (m, 2k) candidate|champion counts."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts[:, :k] / counts[:, :k].sum(axis=1, keepdims=True)
        q = counts[:, k:] / counts[:, k:].sum(axis=1, keepdims=True)
        m = (p + q) / 2
        bits = (special.rel_entr(p, m).sum(axis=1) + special.rel_entr(q, m).sum(axis=1)) / 2
    return np.asarray(bits / math.log(2), dtype=np.float64)


def _per_row(metric: str, y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Each row's score (accuracy) or loss (the others)."""
    if metric in ("accuracy", "error_rate"):
        hit = np.asarray(y.astype(object) == predicted.astype(object), dtype=np.float64)
        return hit if metric == "accuracy" else 1.0 - hit
    try:
        error = predicted.astype(np.float64) - y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{metric} needs numeric labels and predictions: {exc}") from exc
    return np.abs(error) if metric == "mae" else error**2


def _drop(metric: str, totals: np.ndarray) -> np.ndarray:
    """Per row of (m, 3) candidate|champion|count sums: how much worse the candidate is."""
    cand, base = totals[:, 0] / totals[:, 2], totals[:, 1] / totals[:, 2]
    if metric == "rmse":
        cand, base = np.sqrt(cand), np.sqrt(base)
    return np.asarray(base - cand if metric == "accuracy" else cand - base, dtype=np.float64)
