"""Rollout plans from YAML: stages, traffic steps, minimum evidence and criteria.

::

    routing_key: {header: x-user-id}      # or {field: user_id}; sticky canary assignment
    criteria:                             # defaults for every stage
      max_error_rate: 0.01
      max_p99_ms: 50
      min_agreement: 0.9
      max_distance: 0.1
      metric: accuracy                    # once labels arrive, against the champion
      max_metric_drop: 0.02
      confidence: 0.95                    # each check's, over every look at a step
    stages:
      - {stage: shadow, min_duration: 5m, min_requests: 1000}
      - {stage: canary, steps: [5, 25, 50], min_duration: 10m, min_requests: 500}
      - {stage: full, min_duration: 10m, min_requests: 1000}

A canary stage with several steps becomes one step per share. ``max_duration``
bounds how long a step may stay inconclusive before the rollout is rolled back.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodml import yaml_text
from prodml.domain.rollout import CANARY, FULL, SHADOW, STAGES, Criteria, Plan, RoutingKey, Step
from prodml.errors import InvalidInputError

METRICS = ("accuracy", "error_rate", "mae", "rmse", "mse")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_STEP_FIELDS = {"stage", "steps", "min_duration", "min_requests", "max_duration", "criteria"}
DEFAULT_PLAN: dict[str, Any] = {
    "stages": [
        {"stage": SHADOW, "min_duration": "5m", "min_requests": 500},
        {"stage": CANARY, "steps": [5, 25, 50], "min_duration": "5m", "min_requests": 300},
        {"stage": FULL, "min_duration": "5m", "min_requests": 500},
    ]
}


def load(source: str | Path | Mapping[str, Any] | None) -> Plan:
    """A plan from a YAML file, YAML text or a mapping (None: the default plan)."""
    if source is None:
        return parse(DEFAULT_PLAN)
    if isinstance(source, Mapping):
        return parse(source)
    path = Path(source)
    if path.suffix in (".yaml", ".yml") and not path.is_file():
        raise InvalidInputError(f"Rollout plan file {path} does not exist.")
    document = yaml_text.read(path, "Rollout plan") if path.is_file() else None
    if document is None:
        document = yaml_text.parse(str(source), "Rollout plan", "is")
    return parse(document)


def parse(document: Any) -> Plan:
    if not isinstance(document, Mapping) or not isinstance(document.get("stages"), list):
        raise InvalidInputError(
            "A rollout plan needs a 'stages' list, e.g. stages: [{stage: shadow, "
            "min_duration: 5m, min_requests: 500}, {stage: canary, steps: [5, 25]}]."
        )
    unknown = set(document) - {"stages", "criteria", "routing_key"}
    if unknown:
        raise InvalidInputError(
            f"Rollout plan has unknown field(s) {', '.join(sorted(unknown))}; "
            "known: stages, criteria, routing_key."
        )
    defaults = criteria(document.get("criteria", {}), "criteria", Criteria())
    steps: list[Step] = []
    for i, item in enumerate(document["stages"]):
        steps.extend(_steps(item, f"stages[{i}]", defaults))
    if not steps:
        raise InvalidInputError("Rollout plan field 'stages' is empty; give at least one stage.")
    shares = [s.share for s in steps]
    if shares != sorted(shares):
        raise InvalidInputError(
            "Rollout plan stages must not lower the candidate's share: order them shadow, "
            "canary steps from small to large, then full."
        )
    key = _routing_key(document.get("routing_key"))
    return Plan(tuple(steps), key, dict(document))


def _steps(item: Any, field: str, defaults: Criteria) -> list[Step]:
    if not isinstance(item, Mapping) or item.get("stage") not in STAGES:
        raise InvalidInputError(f"Rollout plan {field}.stage must be one of {', '.join(STAGES)}.")
    unknown = set(item) - _STEP_FIELDS
    if unknown:
        raise InvalidInputError(
            f"Rollout plan {field} has unknown field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_STEP_FIELDS))}."
        )
    stage = item["stage"]
    shares = _shares(item, field, stage)
    rules = criteria(item.get("criteria", {}), f"{field}.criteria", defaults)
    minimum = item.get("min_requests", 100)
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        raise InvalidInputError(f"Rollout plan {field}.min_requests must be a whole number >= 1.")
    longest = item.get("max_duration")
    return [
        Step(
            stage,
            share,
            duration(item.get("min_duration", "1m"), f"{field}.min_duration"),
            minimum,
            None if longest is None else duration(longest, f"{field}.max_duration"),
            rules,
        )
        for share in shares
    ]


def _shares(item: Mapping[str, Any], field: str, stage: str) -> list[float]:
    if stage != CANARY:
        if "steps" in item:
            raise InvalidInputError(f"Rollout plan {field}: only a canary stage has 'steps'.")
        return [0.0 if stage == SHADOW else 1.0]
    steps = item.get("steps", [10])
    valid = (
        isinstance(steps, list)
        and steps
        and all(
            isinstance(s, int | float) and not isinstance(s, bool) and 0 < s < 100 for s in steps
        )
    )
    if not valid or steps != sorted(steps):
        raise InvalidInputError(
            f"Rollout plan {field}.steps must be rising percentages between 0 and 100, "
            "e.g. [5, 25, 50]."
        )
    return [float(s) / 100.0 for s in steps]


def criteria(document: Any, field: str, base: Criteria) -> Criteria:
    if not isinstance(document, Mapping):
        raise InvalidInputError(f"Rollout plan {field} must be a mapping of limits.")
    known = {f.name for f in dataclasses.fields(Criteria)}
    unknown = set(document) - known
    if unknown:
        raise InvalidInputError(
            f"Rollout plan {field} has unknown field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known))}."
        )
    values: dict[str, Any] = {}
    for key, value in document.items():
        values[key] = _limit(key, value, f"{field}.{key}")
    merged = dataclasses.replace(base, **values)
    if (merged.metric is None) != (merged.max_metric_drop is None):
        raise InvalidInputError(
            f"Rollout plan {field}: give 'metric' and 'max_metric_drop' together "
            "(e.g. metric: accuracy, max_metric_drop: 0.02)."
        )
    return merged


def _limit(key: str, value: Any, field: str) -> Any:
    if value is None:
        return None
    if key == "metric":
        if value not in METRICS:
            raise InvalidInputError(
                f"Rollout plan {field} is {value!r}; known metrics: {', '.join(METRICS)}."
            )
        return value
    if key == "min_labels":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInputError(f"Rollout plan {field} must be a whole number >= 1.")
        return value
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"Rollout plan {field} must be a number >= 0.")
    bounded = key in ("max_error_rate", "min_agreement", "max_distance", "confidence")
    if bounded and value > 1:
        raise InvalidInputError(f"Rollout plan {field} is a share: give a number in [0, 1].")
    return float(value)


def duration(value: Any, field: str, what: str = "Rollout plan") -> float:
    """Seconds from a number or text such as 30s, 5m, 2h."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise InvalidInputError(
            f"{what} {field} is {value!r}; give seconds or a duration such as 30s, 5m, 2h."
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def _routing_key(value: Any) -> RoutingKey | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and len(value) == 1:
        source, name = next(iter(value.items()))
        if source in ("header", "field") and isinstance(name, str) and name:
            return RoutingKey(source, name.lower() if source == "header" else name)
    raise InvalidInputError(
        "Rollout plan routing_key must be {header: NAME} or {field: NAME}, "
        "e.g. {header: x-user-id}."
    )
