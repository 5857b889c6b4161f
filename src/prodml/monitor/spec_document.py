"""The monitor spec document as a typed model (read by :mod:`prodml.monitor.spec`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from prodml.documents import Document, Duration, Name
from prodml.domain.ids import parse_time

LabelMetric = Literal["accuracy", "error_rate", "mae", "rmse"]
TrafficMetric = Literal["p50_ms", "p99_ms", "failure_rate", "fallback_rate"]
Monitor = Literal["inputs", "predictions", "operations", "quality"]
Alpha = Annotated[
    float,
    Field(
        gt=0,
        lt=0.5,
        description="the share of normal windows allowed to alert, between 0 and 0.5 "
        "(e.g. 0.01; lower is quieter)",
    ),
]
Count = Annotated[int, Field(ge=1)]


def _epoch(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_time(str(value)).timestamp()
    except ValueError:
        raise ValueError(
            "give an ISO time such as 2026-11-01T00:00:00Z (windows before it are not evaluated)"
        ) from None


Since = Annotated[
    float,
    BeforeValidator(_epoch),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]}),
]


class LabelsDocument(Document):
    """How labels are judged once they arrive."""

    model_config = ConfigDict(title="Labels")

    wait: Duration = Field(
        86400.0, description="labels of a window are judged this long after it (1d)"
    )
    metric: LabelMetric | None = Field(
        None, description="default: accuracy for classes, mae for numbers"
    )
    slice_by: list[Name] = Field([], description="one slice per frequent value of these columns")
    slices: dict[str, Name] | None = Field(
        None,
        description="names to SQL conditions over the inputs, e.g. {long-haul: 'distance > 1500'}",
    )
    min_labels: Count = Field(50, description="fewer labels in a slice: not judged")
    top: Count = Field(10, description="slices per slice_by column: its most frequent values")


class SloDocument(Document):
    """A service level objective: a metric kept at least ``min`` or at most ``max``."""

    model_config = ConfigDict(title="SLO")

    name: Name | None = Field(None, description="default: the metric's name")
    metric: Literal[LabelMetric, TrafficMetric] = Field(
        description="a label metric or a traffic metric"
    )
    min: float | None = Field(None, description="the least value allowed")
    max: float | None = Field(None, description="the most value allowed")
    over: Duration = Field(0, description="judged over this long (0: one window)")

    @model_validator(mode="after")
    def _bounded(self) -> SloDocument:
        if self.min is None and self.max is None:
            raise ValueError("needs min or max, e.g. min: 0.9")
        return self


class MonitorDocument(Document):
    """A model's monitor: its window, the history it is calibrated on, the inputs it
    watches, how labels are judged, and the model's SLOs."""

    model_config = ConfigDict(title="Monitor spec")

    model: Name | None = Field(
        None, description="the model watched (may be given on the command line instead)"
    )
    window: Duration = Field(
        3600.0, description="one window of the prediction log per this long (1h)"
    )
    history: Count = Field(168, description="judge each window against up to this many past ones")
    settle: Duration = Field(5, description="wait this long after a window ends for late rows")
    features: list[Name] = Field([], description="inputs watched (default: every input)")
    ignore: list[Name] = Field([], description="inputs not worth watching (ids, free text)")
    sensitivity: Alpha | dict[Monitor, Alpha] = Field(
        0.01, description="for every monitor, or per monitor (inputs, predictions, ...)"
    )
    dedupe: Duration = Field(
        86400.0, description="findings this close to an open alert join it (1d)"
    )
    labels: LabelsDocument | None = Field(None, description="how labels are judged")
    slos: list[SloDocument] | None = Field(None, description="the model's objectives")
    since: Since | None = Field(None, description="windows before this time are never evaluated")
    warmup: Annotated[int, Field(ge=2)] | None = Field(
        None, description="quiet until this many past windows (default: a day's worth, 6 to 24)"
    )
    season: Duration | Literal["default", "none"] | None = Field(
        "default",
        description="judge against the same time of past seasons once 3 exist (default: a day "
        "for windows that divide it; none: off)",
    )

    @field_validator("window")
    @classmethod
    def _at_least_a_second(cls, window: float) -> float:
        if window < 1:
            raise ValueError("give at least 1s, e.g. window: 1h")
        return window

    @model_validator(mode="after")
    def _whole_windows_in_a_season(self) -> MonitorDocument:
        season = self.season
        if (
            isinstance(season, float)
            and season
            and (season < 2 * self.window or season % self.window)
        ):
            raise ValueError(
                f"field season ({season:g}s) must be a whole number of windows "
                f"({self.window:g}s), at least two (e.g. 1d for hourly windows), or none"
            )
        return self
