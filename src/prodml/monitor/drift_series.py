"""Drift over time: how far each window's inputs moved from the monitor's baseline,
and the shape of its predictions, read from the profiles stored with the windows.

The baseline is the merged profile of the first ``warmup`` windows that had traffic
and raised no alert (or whose alert people ignored): what the monitor learnt as
normal. Each column's distance is the one dataset diffs use (Kolmogorov-Smirnov for
numbers, total variation for categories), from 0 (the same) to 1 (no overlap)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from prodml.client import Client
from prodml.data.distributions import distributions, shifts
from prodml.data.profile import TableProfile, merge_all
from prodml.domain.monitoring import AlertState, Window
from prodml.errors import NotFoundError
from prodml.monitor.spec import MonitorSpec
from prodml.monitor.windows import PREDICTION

QUANTILES = (0.05, 0.5, 0.95)
REMEMBERED = 20_000  # windows judged against their baseline, kept in this process
REMEMBERED_BASELINES = 64


@dataclass(frozen=True, kw_only=True)
class ColumnDrift:
    start: float
    end: float
    column: str
    measure: str  # "ks" or "total variation"
    distance: float


@dataclass(frozen=True, kw_only=True)
class PredictionShape:
    start: float
    end: float
    rows: int
    mean: float | None
    quantiles: dict[float, float]  # probability: value (numbers only)
    top: tuple[tuple[str, int], ...]  # most frequent answers (classes)


@dataclass(frozen=True, kw_only=True)
class DriftSeries:
    model: str
    baseline: tuple[float, ...]  # starts of the windows the baseline merges
    columns: tuple[ColumnDrift, ...]  # oldest first
    predictions: tuple[PredictionShape, ...]  # oldest first


Shape = tuple[float | None, dict[float, float], tuple[tuple[str, int], ...]]
Judged = tuple[list[tuple[str, str, float]], Shape]
_JUDGED: OrderedDict[tuple[str, tuple[str, ...], str], Judged] = OrderedDict()
_BASELINES: OrderedDict[tuple[str, tuple[str, ...]], TableProfile] = OrderedDict()
_LOCK = threading.Lock()


def series(client: Client, spec: MonitorSpec, since: float | None, limit: int) -> DriftSeries:
    """The last ``limit`` traffic windows (after ``since``) against the baseline."""
    store = client.metadata
    shown = [w for w in store.windows(spec.model, "traffic", since=since, limit=limit) if w.profile]
    shown.reverse()
    if not shown:
        return DriftSeries(model=spec.model, baseline=(), columns=(), predictions=())
    first = _baseline_windows(client, spec)
    key = tuple(str(w.profile) for w in first)
    columns: list[ColumnDrift] = []
    predictions: list[PredictionShape] = []
    for window in shown:
        drifts, shape = _judged(client, key, str(window.profile))
        columns.extend(
            ColumnDrift(
                start=window.start,
                end=window.end,
                column=column,
                measure=measure,
                distance=distance,
            )
            for column, measure, distance in drifts
        )
        predictions.append(
            PredictionShape(
                start=window.start,
                end=window.end,
                rows=window.rows,
                mean=shape[0],
                quantiles=shape[1],
                top=shape[2],
            )
        )
    return DriftSeries(
        model=spec.model,
        baseline=tuple(w.start for w in first),
        columns=tuple(columns),
        predictions=tuple(predictions),
    )


def _judged(client: Client, baseline: tuple[str, ...], digest: str) -> Judged:
    """A window's drift per column and its prediction's shape, remembered: a window and
    its baseline never change once stored, and a page shows the same ones again."""
    key = (client.settings.artifact_url, baseline, digest)
    with _LOCK:
        found = _JUDGED.get(key)
        if found is not None:
            _JUDGED.move_to_end(key)
            return found
    profile = _profile(client, digest)
    drifts = [
        (shift.column, shift.measure, shift.distance)
        for shift in shifts(_baseline(client, baseline), profile)
        if shift.column not in (PREDICTION, f"model_{PREDICTION}")
    ]
    judged = drifts, _shape(profile)
    with _LOCK:
        _JUDGED[key] = judged
        while len(_JUDGED) > REMEMBERED:
            _JUDGED.popitem(last=False)
    return judged


def _baseline(client: Client, digests: tuple[str, ...]) -> TableProfile:
    key = (client.settings.artifact_url, digests)
    with _LOCK:
        merged = _BASELINES.get(key)
    if merged is None:
        merged = merge_all([_profile(client, digest) for digest in digests])
        with _LOCK:
            _BASELINES[key] = merged
            while len(_BASELINES) > REMEMBERED_BASELINES:
                _BASELINES.popitem(last=False)
    return merged


def _baseline_windows(client: Client, spec: MonitorSpec) -> list[Window]:
    oldest = client.metadata.windows(spec.model, "traffic", since=spec.since)[::-1]
    busy = [w for w in oldest if w.profile]
    usable = [w for w in busy if w.alert_id is None or w.alert_state is AlertState.IGNORED]
    chosen = (usable or busy)[: max(1, spec.warmup)]
    if not chosen:
        raise NotFoundError(
            f"Model {spec.model!r} has no window with traffic yet. Run: prodml monitor run"
        )
    return chosen


def _shape(profile: TableProfile) -> Shape:
    name = PREDICTION if PREDICTION in profile.columns else f"model_{PREDICTION}"
    found = {d.column: d for d in distributions(profile)}.get(name)
    mean = found.mean if found is not None and isinstance(found.mean, int | float) else None
    quantiles = {p: v for p, v in (found.quantiles if found else ()) if p in QUANTILES}
    return (None if mean is None else float(mean)), quantiles, (found.top if found else ())


def _profile(client: Client, digest: str) -> TableProfile:
    return TableProfile.from_bytes(client.artifacts.read_bytes(digest))
