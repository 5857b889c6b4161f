"""The evaluation suite document as a typed model (read by :mod:`prodml.evaluate.suite`)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from prodml.documents import Document, Name
from prodml.evaluate.metrics import DEFAULTS, FOR_TASK
from prodml.evaluate.outcomes import Task


def _integral(value: object) -> object:
    """A whole number written as 1000.0 is the whole number 1000."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(_integral)]
Names = Name | list[Name]
Tolerance = Annotated[float, Field(ge=0)]
Scalar = str | int | float | bool | None


class FunctionDocument(Document):
    name: Name = Field(description="the metric's name in reports and gate rules")
    function: str = Field(
        description="module:function, the module importable from where prodml runs",
        json_schema_extra={"pattern": ":"},
    )

    @field_validator("function")
    @classmethod
    def _module_and_name(cls, function: str) -> str:
        if ":" not in function:
            raise ValueError(
                "write module:function, e.g. flight_metrics:cost, with the module importable "
                "from where prodml runs"
            )
        return function


class CustomMetricDocument(FunctionDocument):
    """A metric of your own: function(y_true, y_pred, y_score, rows, sample_weight)."""

    model_config = ConfigDict(title="Custom metric")

    kind: Literal["row", "table"] = Field(
        "table", description="row: per-row values, averaged; table: one number from all rows"
    )
    higher_is_better: bool = Field(True, description="whether a larger value is better")


class ProductMetricDocument(FunctionDocument):
    """Per-row values from predictions and rows; their mean is reported."""

    model_config = ConfigDict(title="Product metric")

    kind: Literal["row"] = Field("row", description="per-row values, averaged")
    higher_is_better: bool = Field(False, description="whether a larger value is better")


class SliceDocument(Document):
    """A named slice ({name, where}) or one slice per value of a column ({by})."""

    model_config = ConfigDict(title="Slice")

    name: Name | None = Field(None, description="the slice's name (not 'all', not 'auto: ...')")
    where: (
        Annotated[str, Field(pattern=r"\S")]
        | Annotated[dict[str, Scalar | list[Scalar]], Field(min_length=1)]
        | None
    ) = Field(
        None,
        description='SQL over the rows (e.g. "distance > 1500") or column to value '
        "(e.g. {carrier: UA})",
    )
    by: Name | None = Field(None, description="one slice per value of this column")
    limit: Annotated[Whole, Field(ge=1, le=1000)] = Field(
        20, description="with by: slices for at most this many values"
    )
    tolerance: Tolerance | dict[str, Tolerance] | None = Field(
        None, description="the slice's own tolerance: one for every metric, or per metric"
    )

    @model_validator(mode="after")
    def _named_with_rows(self) -> SliceDocument:
        if self.by is not None:
            return self
        if self.name is None:
            raise ValueError("needs a name and where, or by: COLUMN for one slice per value")
        if self.name == "all" or self.name.startswith("auto: "):
            raise ValueError(f"is named {self.name!r}, which is reserved; choose another name")
        if self.where is None:
            raise ValueError(
                'needs where: SQL text (e.g. "distance > 1500") or a mapping of column to '
                "value (e.g. {carrier: UA})"
            )
        return self


class RuleDocument(Document):
    """A gate rule: a metric with one bound, or {must_pass: true}."""

    model_config = ConfigDict(title="Gate rule")

    metric: Name | None = Field(None, description="a metric of this suite")
    max_regression: float | None = Field(None, description="the most it may fall behind")
    at_least: float | None = Field(None, description="the least value it may have")
    at_most: float | None = Field(None, description="the most value it may have")
    slices: Literal["all_slices"] | Names | None = Field(
        None, description="slices judged ('all' is the whole set; default: every slice)"
    )
    must_pass: bool = Field(False, description="every row of the scenario sets comes out right")

    @model_validator(mode="after")
    def _one_bound(self) -> RuleDocument:
        bounds = [self.max_regression, self.at_least, self.at_most]
        if not self.must_pass and sum(bound is not None for bound in bounds) != 1:
            raise ValueError("needs exactly one of max_regression, at_least or at_most")
        if any(bound is not None and math.isnan(bound) for bound in bounds):
            raise ValueError("has a bound that is not a number")
        return self


class GateDocument(Document):
    """How a candidate is judged against the model it would replace."""

    model_config = ConfigDict(title="Gate")

    against: Name = Field("champion", description="the alias compared against")
    min_rows: Annotated[Whole, Field(ge=1, le=10**12)] = Field(
        100, description="fewer rows in a slice: not judged"
    )
    mode: Literal["observed", "non_inferiority"] = Field(
        "observed",
        description="observed: pass when the observed change is within the tolerance; "
        "non_inferiority: pass only when the interval rules out a regression past it",
    )
    rules: list[RuleDocument] = Field(
        [], description="default: the first metric may not regress, and must-pass sets pass"
    )


class AutoSlicesDocument(Document):
    model_config = ConfigDict(title="Automatic slices")

    count: Annotated[Whole, Field(ge=0, le=100)] = Field(
        5, description="slices where the model's errors are worst"
    )
    min_rows: Annotated[Whole, Field(ge=1, le=10**12)] = Field(
        200, description="the fewest rows an automatic slice has"
    )


class BootstrapDocument(Document):
    model_config = ConfigDict(title="Bootstrap")

    resamples: Annotated[Whole, Field(ge=0, le=100_000)] = Field(
        1000, description="resamples drawn for each interval"
    )
    confidence: Annotated[float, Field(ge=0.5, le=0.9999)] = Field(
        0.95, description="of each interval"
    )
    seed: Annotated[Whole, Field(ge=0, le=2**32 - 1)] = Field(
        0, description="the same seed draws the same resamples"
    )


class LeakageDocument(Document):
    """What the leakage checks before a training step read: a training row and a
    validation row must not share a key, validation must come after training in time,
    and no column known only after the label may be a feature."""

    model_config = ConfigDict(title="Leakage checks")

    keys: Names | None = Field(
        None, description="the column(s) naming a row's entity; none may be on both sides"
    )
    time_column: Name | None = Field(
        None, description="a date or timestamp column: no validation row before training's last"
    )
    known_after_label: Names = Field(
        [], description="columns whose values are known only after the label: never features"
    )
    max_overlap: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="the share of validation rows whose key may also be in training"
    )

    @model_validator(mode="after")
    def _each_once(self) -> LeakageDocument:
        for field, names in (("keys", self.keys), ("known_after_label", self.known_after_label)):
            listed = _listed(names)
            repeated = sorted({name for name in listed if listed.count(name) > 1})
            if repeated:
                raise ValueError(f"lists {', '.join(map(repr, repeated))} twice in {field}")
        return self


class SuiteDocument(Document):
    """One standard evaluation of a model: validation sets, metrics, slices and the gate."""

    model_config = ConfigDict(title="Evaluation suite")

    task: Literal["classification", "regression"] = Field(description="what the model predicts")
    label: Name = Field(description="the column holding the true answer")
    description: str | None = Field(None, description="what the suite is for, in words")
    features: Names | None = Field(None, description="the model's inputs (default: the rest)")
    validation_sets: Name | Annotated[list[Name], Field(min_length=1)] = Field(
        description="datasets, NAME (latest) or NAME@VERSION"
    )
    scenarios: Names = Field([], description="sets every row of which must come out right")
    metrics: Names | None = Field(None, description="built-in metrics (default: per task)")
    custom_metrics: list[CustomMetricDocument] = Field([], description="metrics of your own")
    product_metrics: list[ProductMetricDocument] = Field(
        [], description="per-row values from predictions and rows; their mean is reported"
    )
    slices: list[SliceDocument] = Field([], description="subsets judged on their own")
    auto_slices: AutoSlicesDocument | None = Field(
        None, description="slices found where the model's errors are worst"
    )
    bootstrap: BootstrapDocument | None = Field(None, description="how intervals are drawn")
    threshold: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5, description="binary: the probability from which evaluation counts a positive"
    )
    scenario_tolerance: Annotated[float, Field(ge=0)] = Field(
        0.0, description="regression: how far a scenario row's answer may be from the truth"
    )
    gate: GateDocument | None = Field(None, description="how a candidate is judged")
    leakage: LeakageDocument | None = Field(
        None, description="checks of the training and validation sets before training"
    )

    def metric_names(self) -> list[str]:
        task = Task(self.task)
        built_in = list(DEFAULTS[task]) if self.metrics is None else _listed(self.metrics)
        return [*built_in, *(f.name for f in [*self.custom_metrics, *self.product_metrics])]

    @model_validator(mode="after")
    def _metrics_known_once(self) -> SuiteDocument:
        task = Task(self.task)
        for name in _listed(self.metrics):
            if name not in FOR_TASK[task]:
                raise ValueError(
                    f"field metrics: {name!r} is not a built-in {task} metric "
                    f"({', '.join(FOR_TASK[task])}). Add your own under 'custom_metrics' with "
                    "a 'function: module:name'"
                )
        _once(self.metric_names(), "metric")
        _once([s.name for s in self.slices if s.by is None and s.name], "slice")
        known = set(self.metric_names())
        for index, rule in enumerate(self.gate.rules if self.gate else []):
            if not rule.must_pass and rule.metric not in known:
                raise ValueError(
                    f"field gate.rules[{index}].metric is {rule.metric!r}, not a metric of this "
                    f"suite ({', '.join(sorted(known))})"
                )
        self._no_feature_after_label()
        return self

    def _no_feature_after_label(self) -> None:
        later = _listed(self.leakage.known_after_label) if self.leakage else []
        for index, name in enumerate(later):
            if name == self.label:
                raise ValueError(
                    f"field leakage.known_after_label[{index}] is the label {name!r}; list "
                    "only other columns (the label is never a feature)"
                )
            if name in _listed(self.features):
                raise ValueError(
                    f"field leakage.known_after_label[{index}] is {name!r}, which features "
                    "also lists; drop it from features, or from known_after_label if it is "
                    "known when predicting"
                )


def _listed(names: str | list[str] | None) -> list[str]:
    return [names] if isinstance(names, str) else list(names or [])


def _once(names: list[str], what: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"names {what} {', '.join(map(repr, repeated))} twice; rename one")
