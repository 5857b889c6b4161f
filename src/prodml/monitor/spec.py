"""A model's monitor, declared in YAML: its window, the history it is calibrated on,
the inputs it watches, how labels are judged, and the model's SLOs.

```yaml
window: 1h            # one window per hour of the prediction log
history: 168          # judge each window against up to 168 past ones
warmup: 24            # quiet until this many past windows (default: a day's worth, 6-24)
season: 1d            # judge against the same hour of past days once 3 exist (none: off)
ignore: [tailnum]     # inputs not worth watching (ids, free text)
sensitivity: 0.01     # share of normal windows allowed to alert, per monitor
since: 2026-11-01T00:00:00Z  # optional: windows before it are never evaluated
dedupe: 1d            # findings this close to an open alert's windows join it
labels:
  wait: 6h            # labels of a window are judged this long after it ends
  metric: accuracy    # accuracy, error_rate, mae or rmse
  slice_by: [carrier] # one slice per frequent value
  slices: {long-haul: "distance > 1500"}
  min_labels: 50      # fewer labels in a slice: not judged
slos:
  - {name: accuracy-7d, metric: accuracy, min: 0.9, over: 7d}
  - {name: p99, metric: p99_ms, max: 50}
```"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prodml import yaml_text
from prodml.deploy.plan import duration
from prodml.domain.ids import parse_time
from prodml.errors import InvalidInputError

WHAT = "Monitor spec"
LABEL_METRICS = ("accuracy", "error_rate", "mae", "rmse")
TRAFFIC_METRICS = ("p50_ms", "p99_ms", "failure_rate", "fallback_rate")
MONITORS = ("inputs", "predictions", "operations", "quality")
_FIELDS = {"model", "window", "history", "settle", "features", "ignore", "sensitivity", "dedupe",
           "labels", "slos", "since", "warmup", "season"}  # fmt: skip
DAY = 86400.0
_SLO_FIELDS = {"name", "metric", "min", "max", "over"}
_LABEL_FIELDS = {"wait", "metric", "slice_by", "slices", "min_labels", "top"}


@dataclass(frozen=True)
class Slo:
    name: str
    metric: str
    min: float | None
    max: float | None
    over: float  # seconds; 0: one window

    @property
    def from_labels(self) -> bool:
        return self.metric in LABEL_METRICS

    def breached(self, value: float) -> bool:
        return (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        )

    @property
    def objective(self) -> str:
        return f"{self.metric} {'>= ' + str(self.min) if self.min is not None else ''}" + (
            f"{' and ' if self.min is not None and self.max is not None else ''}"
            f"{'<= ' + str(self.max) if self.max is not None else ''}"
        )


@dataclass(frozen=True)
class Labels:
    wait: float = 86400.0
    metric: str | None = None  # None: accuracy for classes, mae for numbers
    slice_by: tuple[str, ...] = ()
    slices: dict[str, str] = field(default_factory=dict)
    min_labels: int = 50
    top: int = 10  # slices per slice_by column: its most frequent values


@dataclass(frozen=True)
class MonitorSpec:
    model: str
    window: float = 3600.0
    history: int = 168
    settle: float = 5.0
    features: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    sensitivity: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MONITORS, 0.01))
    dedupe: float = 86400.0
    labels: Labels = field(default_factory=Labels)
    slos: tuple[Slo, ...] = ()
    since: float | None = None  # epoch seconds: windows before it are never evaluated
    warmup: int = 24  # past windows needed before it alerts (default: a day, 6 to 24 windows)
    season: float | None = DAY  # seconds: judge against windows at the same time of day

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MonitorSpec:
        return parse(json.loads(text))


def load(source: str | Path | Mapping[str, Any], model: str | None = None) -> MonitorSpec:
    """A spec from a YAML file, YAML text or a mapping; ``model`` fills in a missing name."""
    if isinstance(source, Mapping):
        document: Any = dict(source)
    elif isinstance(source, Path) or (isinstance(source, str) and _is_file(source)):
        document = yaml_text.read(Path(source), WHAT)
    elif isinstance(source, str) and source.endswith((".yaml", ".yml")):
        raise InvalidInputError(f"{WHAT} file {source} does not exist.")
    else:
        document = yaml_text.parse(str(source), WHAT, "is")
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidInputError(f"{WHAT} must be a mapping of fields such as window and slos.")
    if model is not None:
        document.setdefault("model", model)
    return parse(document)


def _is_file(text: str) -> bool:
    """A path to a file, as opposed to YAML text (which may be too long to be a name)."""
    if "\n" in text or len(text) > 1024:
        return False
    try:
        return Path(text).is_file()
    except OSError:
        return False


def parse(doc: dict[str, Any]) -> MonitorSpec:
    unknown = set(doc) - _FIELDS
    if unknown:
        raise InvalidInputError(
            f"{WHAT} has unknown field(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(_FIELDS))}."
        )
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInputError(f"{WHAT} model must name the model watched, e.g. model: churn.")
    window = duration(doc.get("window", "1h"), "window", WHAT)
    if window < 1:
        raise InvalidInputError(f"{WHAT} window must be at least 1s, e.g. window: 1h.")
    return MonitorSpec(
        model=model,
        window=window,
        history=_count(doc.get("history", 168), "history", 1),
        settle=duration(doc.get("settle", 5), "settle", WHAT),
        features=_names(doc.get("features", []), "features"),
        ignore=_names(doc.get("ignore", []), "ignore"),
        sensitivity=_sensitivity(doc.get("sensitivity", 0.01)),
        dedupe=duration(doc.get("dedupe", "1d"), "dedupe", WHAT),
        labels=_labels(doc.get("labels") or {}),
        slos=tuple(_slo(item, index) for index, item in enumerate(doc.get("slos") or [])),
        since=_since(doc.get("since")),
        warmup=_count(doc.get("warmup", _day_of(window)), "warmup", 2),
        season=_season(doc.get("season", "default"), window),
    )


def _season(value: Any, window: float) -> float | None:
    """A day for windows from 10 minutes to a day that divide it; ``none`` turns it off."""
    if value == "default":
        fits = 600 <= window < DAY and DAY % window == 0
        return DAY if fits else None
    if value in (None, "none", 0):
        return None
    season = duration(value, "season", WHAT)
    if season < 2 * window or season % window:
        raise InvalidInputError(
            f"{WHAT} season is {value!r}; give a whole number of windows, at least two (e.g. "
            "1d for hourly windows), or none."
        )
    return season


def _day_of(window: float) -> int:
    """Enough past windows to have seen a day's cycle, between 6 and 24."""
    return int(min(24, max(6, math.ceil(DAY / window))))


def _since(value: Any) -> float | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None if value is None else float(value)
    try:
        return parse_time(str(value)).timestamp()
    except ValueError:
        raise InvalidInputError(
            f"{WHAT} since is {value!r}; give an ISO time such as 2026-11-01T00:00:00Z "
            "(windows before it are not evaluated)."
        ) from None


def _labels(doc: Any) -> Labels:
    if not isinstance(doc, dict) or set(doc) - _LABEL_FIELDS:
        raise InvalidInputError(
            f"{WHAT} labels must be a mapping with: {', '.join(sorted(_LABEL_FIELDS))}."
        )
    metric = doc.get("metric")
    if metric is not None and metric not in LABEL_METRICS:
        raise InvalidInputError(
            f"{WHAT} labels.metric is {metric!r}; choose one of {', '.join(LABEL_METRICS)}."
        )
    slices = doc.get("slices") or {}
    if not isinstance(slices, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in slices.items()
    ):
        raise InvalidInputError(
            f"{WHAT} labels.slices must map names to SQL conditions over the inputs, e.g. "
            "{long-haul: 'distance > 1500'}."
        )
    return Labels(
        wait=duration(doc.get("wait", "1d"), "labels.wait", WHAT),
        metric=metric,
        slice_by=_names(doc.get("slice_by", []), "labels.slice_by"),
        slices=dict(slices),
        min_labels=_count(doc.get("min_labels", 50), "labels.min_labels", 1),
        top=_count(doc.get("top", 10), "labels.top", 1),
    )


def _slo(doc: Any, index: int) -> Slo:
    where = f"slos[{index}]"
    if not isinstance(doc, dict):
        raise InvalidInputError(f"{WHAT} {where} must be a mapping: {{name, metric, min|max}}.")
    unknown = set(doc) - _SLO_FIELDS
    if unknown:
        raise InvalidInputError(
            f"{WHAT} {where} has unknown field(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(_SLO_FIELDS))}."
        )
    metric = doc.get("metric")
    if metric not in LABEL_METRICS + TRAFFIC_METRICS:
        raise InvalidInputError(
            f"{WHAT} {where}.metric is {metric!r}; choose one of "
            f"{', '.join(LABEL_METRICS + TRAFFIC_METRICS)}."
        )
    bounds = {key: doc.get(key) for key in ("min", "max")}
    if all(v is None for v in bounds.values()):
        raise InvalidInputError(f"{WHAT} {where} needs min or max, e.g. min: 0.9.")
    for key, value in bounds.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidInputError(f"{WHAT} {where}.{key} is {value!r}; give a number.")
    return Slo(
        name=str(doc.get("name") or metric),
        metric=metric,
        min=None if bounds["min"] is None else float(bounds["min"]),
        max=None if bounds["max"] is None else float(bounds["max"]),
        over=duration(doc.get("over", 0), f"{where}.over", WHAT),
    )


def _sensitivity(value: Any) -> dict[str, float]:
    given = value if isinstance(value, dict) else dict.fromkeys(MONITORS, value)
    out = dict.fromkeys(MONITORS, 0.01)
    for key, alpha in given.items():
        if key not in MONITORS:
            raise InvalidInputError(
                f"{WHAT} sensitivity.{key} is not a monitor; choose among {', '.join(MONITORS)}."
            )
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
            raise InvalidInputError(
                f"{WHAT} sensitivity{'.' + key if isinstance(value, dict) else ''} is {alpha!r}; "
                "give the share of normal windows allowed to alert, between 0 and 0.5 "
                "(e.g. 0.01; lower is quieter)."
            )
        out[key] = float(alpha)
    return out


def _names(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInputError(f"{WHAT} {name} must be a list of column names.")
    return tuple(value)


def _count(value: Any, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidInputError(f"{WHAT} {name} is {value!r}; give a whole number >= {least}.")
    return value
