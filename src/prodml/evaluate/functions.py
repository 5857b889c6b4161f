"""Custom and product metrics written by users, named ``module:function``.

A function declares the arguments it wants among ``y_true``, ``y_pred``, ``y_score``,
``rows`` and ``sample_weight``; prodml passes just those. Per-row functions return
one value per row (averaged over a slice); table functions return one number."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from prodml.errors import InvalidInputError, MetricFunctionError
from prodml.evaluate.suite import FunctionMetric

FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
ARGUMENTS = ("y_true", "y_pred", "y_score", "rows", "sample_weight")


def load(metric: FunctionMetric) -> Callable[..., Any]:
    """The function behind ``module:name``; the working folder is importable, as for
    ``python -m``."""
    module_name, _, qualified = metric.function.partition(":")
    if not FUNCTION.match(metric.function):
        raise InvalidInputError(
            f"Metric {metric.name!r}: {metric.function!r} is not module:function (a module "
            "name importable from the working folder, e.g. my_metrics:recall_at_10)."
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualified.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise InvalidInputError(
            f"Metric {metric.name!r}: cannot import {metric.function} ({error}). Make the "
            "module importable (run from its folder or install it) and check the name."
        ) from None
    except Exception as error:  # the module itself raised, or Python cannot read it
        raise InvalidInputError(
            f"Metric {metric.name!r}: importing {module_name!r} failed: "
            f"{type(error).__name__}: {error}. Fix the module and run again."
        ) from None
    if not callable(target):
        raise InvalidInputError(
            f"Metric {metric.name!r}: {metric.function} is {type(target).__name__!r}, not a "
            "function. Name a function of the module (def NAME(y_true, y_pred): ...)."
        )
    return target  # type: ignore[no-any-return]


def wanted(function: Callable[..., Any]) -> set[str]:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {"y_true", "y_pred"}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return set(ARGUMENTS)
    return {name for name in parameters if name in ARGUMENTS} or {"y_true", "y_pred"}


def call(metric: FunctionMetric, function: Callable[..., Any], available: dict[str, Any]) -> Any:
    arguments = {name: available[name] for name in wanted(function) if name in available}
    if callable(arguments.get("rows")):  # built only for the functions that ask for rows
        arguments["rows"] = arguments["rows"]()
    try:
        return function(**arguments)
    except Exception as error:
        raise MetricFunctionError(
            f"Metric {metric.name!r} ({metric.function}) raised {type(error).__name__}: "
            f"{error}. Fix the function; it gets {', '.join(sorted(arguments))}."
        ) from None


def per_row(
    metric: FunctionMetric, function: Callable[..., Any], available: dict[str, Any], rows: int
) -> np.ndarray:
    returned = call(metric, function, available)
    try:
        values = np.asarray(returned, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise MetricFunctionError(
            f"Metric {metric.name!r} ({metric.function}) returned values that are not "
            "numbers; a per-row metric returns one number per row."
        ) from None
    if len(values) != rows:
        raise MetricFunctionError(
            f"Metric {metric.name!r} ({metric.function}) returned {len(values)} values for "
            f"{rows} rows; a per-row metric returns one value per row (or use kind: table)."
        )
    return values


def one_number(
    metric: FunctionMetric, function: Callable[..., Any], available: dict[str, Any]
) -> float:
    value = call(metric, function, available)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MetricFunctionError(
            f"Metric {metric.name!r} ({metric.function}) returned {type(value).__name__}, "
            "not a number. Fix the function to return one number (NaN where it has none)."
        ) from None
