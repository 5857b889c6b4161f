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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml import yaml_text
from prodml.domain.rollout import CANARY, FULL, SHADOW, Criteria, Plan, RoutingKey, Step
from prodml.errors import InvalidInputError

if TYPE_CHECKING:
    from prodml.deploy.plan_document import CriteriaDocument, StageDocument

WHAT = "Rollout plan"
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
    if yaml_text.names_a_file(source):
        return parse(yaml_text.read(Path(source), WHAT), f"{WHAT} {source}")
    if isinstance(source, Path) or source.endswith((".yaml", ".yml")):
        raise InvalidInputError(f"{WHAT} file {source} does not exist.")
    return parse(yaml_text.parse(source, WHAT, "is"))


def parse(document: Any, what: str = WHAT) -> Plan:
    """A plan from its document; every mistake is refused naming its field (and the
    document, as ``what``)."""
    from prodml import documents
    from prodml.deploy.plan_document import PlanDocument

    doc = documents.check(PlanDocument, document, what)
    defaults = _criteria(doc.criteria, Criteria())
    steps = tuple(step for stage in doc.stages for step in _steps(stage, defaults))
    key = doc.routing_key
    routing = None
    if key is not None and key.header is not None:
        routing = RoutingKey("header", key.header.lower())
    elif key is not None and key.field is not None:
        routing = RoutingKey("field", key.field)
    return Plan(steps, routing, dict(document))


def _steps(stage: StageDocument, defaults: Criteria) -> list[Step]:
    rules = _criteria(stage.criteria, defaults)
    return [
        Step(
            stage=stage.stage,
            share=share,
            min_duration=stage.min_duration,
            min_requests=stage.min_requests,
            max_duration=stage.max_duration,
            criteria=rules,
        )
        for share in stage.shares()
    ]


def _criteria(document: CriteriaDocument | None, base: Criteria) -> Criteria:
    """``base`` with the limits a document writes (an explicit null drops a limit)."""
    if document is None:
        return base
    given = {key: getattr(document, key) for key in document.model_fields_set}
    return dataclasses.replace(base, **given)
