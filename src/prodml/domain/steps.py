"""Pipeline steps as the store keeps them: a step's key is the digest of everything
that decides its outputs (its code, its config, its inputs, the packages it names);
a cached step maps that key to the outputs one run made, so the next run with the
same key reuses them instead of running the step again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class OutputKind(StrEnum):
    DATASET = "dataset"  # a table, stored as a dataset version
    MODEL = "model"  # a model, stored as a model version
    METRICS = "metrics"  # a mapping of names to numbers, logged on the step's run
    VALUE = "value"  # any other JSON value, kept with the cache entry


@dataclass(frozen=True, kw_only=True)
class StepOutput:
    """One output of a step. ``name`` is "" for a step's single output."""

    name: str
    kind: OutputKind
    id: str  # the dataset or model version's id; "" for metrics and values
    ref: str  # how a person names it: "flights-clean@3", "delay@2", or the name
    digest: str  # the content's digest: equal digests, equal content
    value: Any = None  # the metrics or the JSON value itself


@dataclass(frozen=True, kw_only=True)
class CachedStep:
    key: str
    pipeline: str
    step: str
    run_id: str  # the run that made the outputs
    outputs: tuple[StepOutput, ...]
    seconds: float  # how long the step took when it ran
    created_at: datetime
    nondeterministic: bool = False  # the same key once gave different outputs

    def output(self, name: str) -> StepOutput | None:
        return next((o for o in self.outputs if o.name == name), None)
