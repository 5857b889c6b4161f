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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml import yaml_text
from prodml.domain.registry import CHAMPION
from prodml.errors import InvalidInputError
from prodml.evaluate import metrics as built_ins
from prodml.evaluate.outcomes import Task
from prodml.predict.slices import where_of

KEYS = {
    "task", "label", "features", "validation_sets", "scenarios", "metrics", "custom_metrics",
    "product_metrics", "slices", "auto_slices", "bootstrap", "gate", "threshold",
    "scenario_tolerance", "description",
}  # fmt: skip
GATE_KEYS = ("against", "min_rows", "mode", "rules")
OBSERVED, NON_INFERIORITY = "observed", "non_inferiority"
GATE_MODES = {
    OBSERVED: "pass when the observed change is within the tolerance; inconclusive when it is "
    "past it but not certainly",
    NON_INFERIORITY: "pass only when the interval rules out a regression past the tolerance",
}


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
    """A suite from its document; every mistake names its field and the fix."""
    if not isinstance(document, Mapping):
        raise InvalidInputError("A suite must be a mapping (YAML keys such as task, label, ...).")
    unknown = sorted(set(document) - KEYS)
    if unknown:
        raise InvalidInputError(
            f"Suite field(s) {', '.join(map(repr, unknown))} are not known. "
            f"Known fields: {', '.join(sorted(KEYS))}."
        )
    task_text = document.get("task")
    if task_text not in {t.value for t in Task}:
        raise InvalidInputError(
            f"Suite field 'task' is {task_text!r}: use 'classification' or 'regression'."
        )
    task = Task(task_text)
    metrics = _names(document.get("metrics", list(built_ins.DEFAULTS[task])), "metrics")
    for name in metrics:
        built_ins.built_in(name, task)
    functions = tuple(
        _function(item, f"custom_metrics[{i}]", False)
        for i, item in enumerate(_list(document, "custom_metrics"))
    ) + tuple(
        _function(item, f"product_metrics[{i}]", True)
        for i, item in enumerate(_list(document, "product_metrics"))
    )
    _unique([*metrics, *(f.name for f in functions)], "metric")
    valsets = _names(document.get("validation_sets"), "validation_sets")
    if not valsets:
        raise InvalidInputError(
            "Suite field 'validation_sets' is empty: name at least one dataset, e.g. "
            "validation_sets: [churn-holdout]."
        )
    slices = tuple(_slice(item, f"slices[{i}]") for i, item in enumerate(_list(document, "slices")))
    _unique([s.name for s in slices if s.name], "slice")
    auto = _mapping(document, "auto_slices")
    boot = _mapping(document, "bootstrap")
    gate = _gate(document)
    names = {*metrics, *(f.name for f in functions)}
    scenarios = _names(document.get("scenarios", []), "scenarios")
    rules = tuple(
        _rule(item, f"gate.rules[{i}]", names) for i, item in enumerate(_list(gate, "rules"))
    ) or _default_rules(metrics, functions, scenarios)
    features = document.get("features")
    return Suite(
        task=task,
        label=_text(document.get("label"), "label"),
        valsets=valsets,
        scenarios=scenarios,
        metrics=metrics,
        functions=functions,
        slices=slices,
        rules=rules,
        features=None if features is None else _names(features, "features"),
        auto_count=_number(auto.get("count", 5), "auto_slices.count", 0, 100, integer=True),
        auto_min_rows=_number(auto.get("min_rows", 200), "auto_slices.min_rows", 1, 1e12, True),
        threshold=_number(document.get("threshold", 0.5), "threshold", 0.0, 1.0),
        scenario_tolerance=_number(
            document.get("scenario_tolerance", 0.0), "scenario_tolerance", 0, math.inf
        ),
        resamples=_number(boot.get("resamples", 1000), "bootstrap.resamples", 0, 100_000, True),
        confidence=_number(boot.get("confidence", 0.95), "bootstrap.confidence", 0.5, 0.9999),
        seed=_number(boot.get("seed", 0), "bootstrap.seed", 0, 2**32 - 1, integer=True),
        against=_text(gate.get("against", CHAMPION), "gate.against"),
        min_rows=_number(gate.get("min_rows", 100), "gate.min_rows", 1, 1e12, integer=True),
        mode=_mode(gate.get("mode", OBSERVED)),
        version=version,
    )


def _gate(document: Mapping[str, Any]) -> Mapping[str, Any]:
    gate = _mapping(document, "gate")
    unknown = sorted(set(gate) - set(GATE_KEYS))
    if unknown:
        raise InvalidInputError(
            f"Suite field(s) {', '.join(f'gate.{key}' for key in unknown)} are not known. "
            f"Known gate fields: {', '.join(GATE_KEYS)}."
        )
    return gate


def _mode(value: Any) -> str:
    if not isinstance(value, str) or value not in GATE_MODES:
        modes = "; ".join(f"'{mode}' ({meaning})" for mode, meaning in GATE_MODES.items())
        raise InvalidInputError(f"Suite field 'gate.mode' is {value!r}: use {modes}.")
    return str(value)


def _default_rules(
    metrics: tuple[str, ...], functions: tuple[FunctionMetric, ...], scenarios: tuple[str, ...]
) -> tuple[Rule, ...]:
    first = metrics[0] if metrics else functions[0].name if functions else None
    rules = [Rule(metric=first, max_regression=0.0)] if first else []
    return tuple([*rules, Rule(must_pass=True)] if scenarios else rules)


def _rule(item: Any, field: str, metrics: set[str]) -> Rule:
    if not isinstance(item, Mapping):
        raise InvalidInputError(
            f"Suite field {field!r} must be a mapping, e.g. {{metric: auc, max_regression: 0.01}}."
        )
    if item.get("must_pass"):
        return Rule(must_pass=True)
    metric = item.get("metric")
    if metric not in metrics:
        raise InvalidInputError(
            f"Suite field '{field}.metric' is {metric!r}, not a metric of this suite "
            f"({', '.join(sorted(metrics))})."
        )
    bounds = {
        key: item.get(key) for key in ("max_regression", "at_least", "at_most") if key in item
    }
    if len(bounds) != 1:
        raise InvalidInputError(
            f"Suite field {field!r} needs exactly one of max_regression, at_least or at_most."
        )
    ((key, value),) = bounds.items()
    number = _number(value, f"{field}.{key}", -math.inf, math.inf)
    slices = item.get("slices")
    return Rule(
        metric=str(metric),
        slices=None if slices in (None, "all_slices") else _names(slices, f"{field}.slices"),
        **{key: number},
    )


def _slice(item: Any, field: str) -> SliceSpec:
    if not isinstance(item, Mapping):
        raise InvalidInputError(
            f"Suite field {field!r} must be a mapping with name and where, or by."
        )
    tolerance = _tolerance(item.get("tolerance"), f"{field}.tolerance")
    if "by" in item:
        limit = _number(item.get("limit", 20), f"{field}.limit", 1, 1000, integer=True)
        return SliceSpec(
            name="", by=_text(item["by"], f"{field}.by"), limit=limit, tolerance=tolerance
        )
    name = _text(item.get("name"), f"{field}.name")
    if name == "all" or name.startswith("auto: "):
        raise InvalidInputError(
            f"Suite field '{field}.name': {name!r} is reserved; choose another."
        )
    return SliceSpec(
        name=name, where=where_of(item.get("where"), f"{field}.where"), tolerance=tolerance
    )


def _tolerance(value: Any, field: str) -> float | dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): _number(v, f"{field}.{k}", 0, math.inf) for k, v in value.items()}
    return float(_number(value, field, 0, math.inf))


def _function(item: Any, field: str, product: bool) -> FunctionMetric:
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"Suite field {field!r} must be a mapping with name and function.")
    function = _text(item.get("function"), f"{field}.function")
    if ":" not in function:
        raise InvalidInputError(
            f"Suite field '{field}.function' is {function!r}: write module:function, e.g. "
            "flight_metrics:cost, with the module importable from where prodml runs."
        )
    kind = item.get("kind", "row" if product else "table")
    if kind not in ("row", "table") or (product and kind != "row"):
        raise InvalidInputError(
            f"Suite field '{field}.kind' is {kind!r}: use 'row' (per-row values, averaged)"
            + ("" if product else " or 'table' (one number from all rows)")
            + "."
        )
    higher = item.get("higher_is_better", not product)
    if not isinstance(higher, bool):
        raise InvalidInputError(f"Suite field '{field}.higher_is_better' must be true or false.")
    return FunctionMetric(
        _text(item.get("name"), f"{field}.name"), function, higher, kind == "row", product
    )


def _list(document: Mapping[str, Any], field: str) -> list[Any]:
    value = document.get(field, [])
    if not isinstance(value, list):
        raise InvalidInputError(f"Suite field {field!r} must be a list.")
    return value


def _mapping(document: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = document.get(field) or {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"Suite field {field!r} must be a mapping.")
    return value


def _names(value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInputError(f"Suite field {field!r} must be a list of names.")
    return tuple(value)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"Suite field {field!r} is missing or empty: give a name.")
    return value


def _unique(names: list[str], what: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInputError(
            f"Suite names {what} {', '.join(map(repr, repeated))} twice; rename one."
        )


def _number(value: Any, field: str, low: float, high: float, integer: bool = False) -> Any:
    bad = isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value)
    if bad or (integer and not float(value).is_integer()) or not low <= value <= high:
        kind = "a whole number" if integer else "a number"
        raise InvalidInputError(
            f"Suite field {field!r} is {value!r}: give {kind} from {low:g} to {high:g}."
        )
    return int(value) if integer else float(value)


def read(path: Path) -> dict[str, Any]:
    """A suite document from a YAML file."""
    document = yaml_text.read(path, "suite file")
    if not isinstance(document, dict):
        raise InvalidInputError(f"Suite file {path} must hold a mapping (task, label, ...).")
    return document
