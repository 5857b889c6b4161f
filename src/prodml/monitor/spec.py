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
from typing import TYPE_CHECKING, Any

from prodml import yaml_text
from prodml.errors import InvalidInputError

if TYPE_CHECKING:
    from prodml.monitor.spec_document import LabelsDocument, MonitorDocument

WHAT = "Monitor spec"
LABEL_METRICS = ("accuracy", "error_rate", "mae", "rmse")  # as spec_document.LabelMetric
MONITORS = ("inputs", "predictions", "operations", "quality")  # as spec_document.Monitor
DAY = 86400.0


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
    what = WHAT
    if isinstance(source, Mapping):
        document: Any = dict(source)
    elif yaml_text.names_a_file(source):
        document, what = yaml_text.read(Path(source), WHAT), f"{WHAT} {source}"
    elif isinstance(source, Path) or source.endswith((".yaml", ".yml")):
        raise InvalidInputError(f"{WHAT} file {source} does not exist.")
    else:
        document = yaml_text.parse(str(source), WHAT, "is")
    if document is None:
        document = {}
    if model is not None and isinstance(document, dict):
        document.setdefault("model", model)
    return parse(document, what)


def parse(document: Any, what: str = WHAT) -> MonitorSpec:
    """A spec from its document; every mistake is refused naming its field (and the
    document, as ``what``)."""
    from prodml import documents
    from prodml.monitor.spec_document import MonitorDocument

    doc = documents.check(MonitorDocument, document, what)
    if doc.model is None:
        raise InvalidInputError(f"{WHAT} model must name the model watched, e.g. model: churn.")
    return MonitorSpec(
        model=doc.model,
        window=doc.window,
        history=doc.history,
        settle=doc.settle,
        features=tuple(doc.features),
        ignore=tuple(doc.ignore),
        sensitivity=_sensitivity(doc),
        dedupe=doc.dedupe,
        labels=_labels(doc.labels),
        slos=tuple(
            Slo(
                name=slo.name or slo.metric,
                metric=slo.metric,
                min=slo.min,
                max=slo.max,
                over=slo.over,
            )
            for slo in doc.slos or ()
        ),
        since=doc.since,
        warmup=_day_of(doc.window) if doc.warmup is None else doc.warmup,
        season=_season(doc.season, doc.window),
    )


def _season(value: float | str | None, window: float) -> float | None:
    """A day for windows from 10 minutes to a day that divide it; ``none`` turns it off."""
    if value == "default":
        fits = 600 <= window < DAY and DAY % window == 0
        return DAY if fits else None
    return value if isinstance(value, float) and value else None


def _day_of(window: float) -> int:
    """Enough past windows to have seen a day's cycle, between 6 and 24."""
    return int(min(24, max(6, math.ceil(DAY / window))))


def _labels(doc: LabelsDocument | None) -> Labels:
    if doc is None:
        return Labels()
    return Labels(
        wait=doc.wait,
        metric=doc.metric,
        slice_by=tuple(doc.slice_by),
        slices=dict(doc.slices or {}),
        min_labels=doc.min_labels,
        top=doc.top,
    )


def _sensitivity(doc: MonitorDocument) -> dict[str, float]:
    given = doc.sensitivity
    if isinstance(given, dict):
        return {**dict.fromkeys(MONITORS, 0.01), **{str(k): alpha for k, alpha in given.items()}}
    return dict.fromkeys(MONITORS, given)
