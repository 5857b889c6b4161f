"""Evaluation suites: one standard evaluation per model, written as YAML.

::

    task: classification          # or regression
    label: late
    validation_sets: [flights-holdout, late-arrivals-failures]   # NAME (latest) or NAME@V
    scenarios: [must-pass-flights] # sets every row of which must come out right
    metrics: [auc, accuracy]       # defaults per task when left out
    custom_metrics:                # function(y_true, y_pred, y_score, rows, sample_weight)
      - {name: late_recall, function: "flight_metrics:late_recall", kind: table}
    product_metrics:               # per-row values from predictions and rows; mean reported
      - {name: cost, function: "flight_metrics:cost", higher_is_better: false}
    slices:
      - {name: long-haul, where: "distance > 1500", tolerance: {auc: 0.02}}  # or one number
      - {by: origin}               # one slice per value
    auto_slices: {count: 5, min_rows: 200}
    bootstrap: {resamples: 1000, confidence: 0.95, seed: 0}
    threshold: 0.5                 # binary: the probability from which evaluation counts a
                                   # positive (serving answers with the model's own predict)
    gate:
      against: champion
      min_rows: 100
      mode: observed               # or non_inferiority: pass a regression rule only when
                                   # the interval rules out a regression past the tolerance
      rules:
        - {metric: auc, max_regression: 0.005}      # on every slice unless 'slices' says
        - {metric: accuracy, at_least: 0.7, slices: [all]}
        - {must_pass: true}
    leakage:                       # checked before training (prodml.check_leakage)
      keys: [flight_id]            # no key on both sides of the split (or max_overlap: 0.01)
      time_column: time_hour       # no validation row before training's latest
      known_after_label: [arr_delay, arr_time]   # never features
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml import yaml_text
from prodml.domain.leakage import LeakageDeclarations
from prodml.domain.registry import CHAMPION
from prodml.evaluate import metrics as built_ins
from prodml.evaluate.outcomes import Task
from prodml.predict.slices import where_of

if TYPE_CHECKING:
    from prodml.evaluate.suite_document import (
        CustomMetricDocument,
        LeakageDocument,
        ProductMetricDocument,
        RuleDocument,
        SliceDocument,
        SuiteDocument,
    )

WHAT = "Suite"
OBSERVED, NON_INFERIORITY = "observed", "non_inferiority"  # as suite_document.GateDocument.mode


@dataclass(frozen=True)
class SliceSpec:
    name: str
    where: str = ""
    by: str = ""  # one slice per value of this column
    limit: int = 20
    tolerance: float | dict[str, float] | None = None  # one for every metric, or per metric


@dataclass(frozen=True)
class FunctionMetric:
    name: str
    function: str  # "module:qualified.name"
    higher_is_better: bool
    per_row: bool  # per-row values averaged (fast, exact bootstrap) or one number per call
    product: bool = False


@dataclass(frozen=True)
class Rule:
    metric: str | None = None
    max_regression: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    slices: tuple[str, ...] | None = None  # None: every slice
    must_pass: bool = False

    def describe(self) -> str:
        if self.must_pass:
            return "must-pass sets at 100%"
        if self.max_regression is not None:
            return f"{self.metric} regresses no more than {self.max_regression:g}"
        bound = f">= {self.at_least:g}" if self.at_least is not None else f"<= {self.at_most:g}"
        return f"{self.metric} {bound}"


@dataclass(frozen=True)
class Suite:
    task: Task
    label: str
    valsets: tuple[str, ...]
    scenarios: tuple[str, ...]
    metrics: tuple[str, ...]
    functions: tuple[FunctionMetric, ...]
    slices: tuple[SliceSpec, ...]
    rules: tuple[Rule, ...]
    features: tuple[str, ...] | None = None
    auto_count: int = 5
    auto_min_rows: int = 200
    threshold: float = 0.5
    scenario_tolerance: float = 0.0
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    against: str = CHAMPION
    min_rows: int = 100
    mode: str = OBSERVED  # how regression rules judge a change (GATE_MODES)
    version: int = 0
    leakage: LeakageDeclarations = dataclasses.field(default_factory=LeakageDeclarations)

    def metric_names(self) -> list[str]:
        return [*self.metrics, *(function.name for function in self.functions)]

    def tolerance(self, slice_name: str, metric: str) -> float | None:
        """The slice's own tolerance for ``metric`` (slices made by ``by:`` share theirs)."""
        for spec in self.slices:
            if spec.name == slice_name or (spec.by and slice_name.startswith(f"{spec.by}=")):
                found = spec.tolerance
                return found.get(metric) if isinstance(found, dict) else found
        return None


def parse(document: Any, version: int = 0) -> Suite:
    """A suite from its document; every mistake is refused naming its field."""
    from prodml import documents
    from prodml.evaluate.suite_document import SuiteDocument

    return _suite(documents.check(SuiteDocument, document, WHAT), version)


def read(path: Path) -> dict[str, Any]:
    """A suite document from a YAML file, checked (errors name the file)."""
    from prodml import documents
    from prodml.evaluate.suite_document import SuiteDocument

    document = yaml_text.read(path, "suite file")
    documents.check(SuiteDocument, document, f"Suite file {path}")
    return dict(document)


def _suite(doc: SuiteDocument, version: int) -> Suite:
    task = Task(doc.task)
    metrics = built_ins.DEFAULTS[task] if doc.metrics is None else _names(doc.metrics)
    functions = tuple(_function(item, product=False) for item in doc.custom_metrics) + tuple(
        _function(item, product=True) for item in doc.product_metrics
    )
    scenarios = _names(doc.scenarios)
    gate, auto, boot = doc.gate, doc.auto_slices, doc.bootstrap
    rules = tuple(_rule(rule) for rule in (gate.rules if gate else []))
    return Suite(
        task=task,
        label=doc.label,
        valsets=_names(doc.validation_sets),
        scenarios=scenarios,
        metrics=tuple(metrics),
        functions=functions,
        slices=tuple(_slice(item, f"slices[{i}]") for i, item in enumerate(doc.slices)),
        rules=rules or _default_rules(tuple(metrics), functions, scenarios),
        features=None if doc.features is None else _names(doc.features),
        auto_count=auto.count if auto else 5,
        auto_min_rows=auto.min_rows if auto else 200,
        threshold=doc.threshold,
        scenario_tolerance=doc.scenario_tolerance,
        resamples=boot.resamples if boot else 1000,
        confidence=boot.confidence if boot else 0.95,
        seed=boot.seed if boot else 0,
        against=gate.against if gate else CHAMPION,
        min_rows=gate.min_rows if gate else 100,
        mode=gate.mode if gate else OBSERVED,
        version=version,
        leakage=_leakage(doc.leakage, doc.label, doc.features),
    )


def _leakage(
    doc: LeakageDocument | None, label: str, features: str | list[str] | None
) -> LeakageDeclarations:
    declared = LeakageDeclarations(
        label=label, features=None if features is None else _names(features)
    )
    if doc is None:
        return declared
    return declared.overridden(
        keys=_names(doc.keys),
        time_column=doc.time_column,
        known_after_label=_names(doc.known_after_label),
        max_overlap=doc.max_overlap,
    )


def _default_rules(
    metrics: tuple[str, ...], functions: tuple[FunctionMetric, ...], scenarios: tuple[str, ...]
) -> tuple[Rule, ...]:
    first = metrics[0] if metrics else functions[0].name if functions else None
    rules = [Rule(metric=first, max_regression=0.0)] if first else []
    return tuple([*rules, Rule(must_pass=True)] if scenarios else rules)


def _rule(doc: RuleDocument) -> Rule:
    if doc.must_pass:
        return Rule(must_pass=True)
    slices = doc.slices
    return Rule(
        metric=doc.metric,
        max_regression=doc.max_regression,
        at_least=doc.at_least,
        at_most=doc.at_most,
        slices=None if slices in (None, "all_slices") else _names(slices),
    )


def _slice(doc: SliceDocument, field: str) -> SliceSpec:
    tolerance = doc.tolerance
    if doc.by is not None:
        return SliceSpec(name="", by=doc.by, limit=doc.limit, tolerance=tolerance)
    return SliceSpec(
        name=doc.name or "", where=where_of(doc.where, f"{field}.where"), tolerance=tolerance
    )


def _function(doc: CustomMetricDocument | ProductMetricDocument, product: bool) -> FunctionMetric:
    return FunctionMetric(doc.name, doc.function, doc.higher_is_better, doc.kind == "row", product)


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())
