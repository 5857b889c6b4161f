"""Hindsight metrics: one metric computed for every stored version of a model on one
validation set version, without retraining, so the metric's history can be read as
if it had been in the suite from the start.

Each version's result is an ordinary evaluation (linked to the model version and the
dataset version); a version already backfilled with the same metric, validation set
and slice is read back instead of computed again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from prodml.domain.evaluation import ALL, Estimate, EvaluationFinding


class BackfillStatus(StrEnum):
    COMPUTED = "computed"  # scored now and stored
    STORED = "stored"  # an earlier backfill of the same metric, set and slices, read back
    FAILED = "failed"  # the version could not be scored; ``error`` says why and what to do


@dataclass(frozen=True, kw_only=True)
class BackfilledVersion:
    """One model version's values of the metric: one per slice (``all`` is every row)."""

    model: str  # NAME@VERSION
    version: int
    model_id: str
    created_at: datetime  # the model version's
    status: BackfillStatus
    values: dict[str, Estimate]  # slice name to estimate
    evaluation_id: str | None = None  # where the values are stored
    error: str | None = None
    findings: tuple[EvaluationFinding, ...] = ()

    def value(self, slice_name: str = ALL) -> Estimate | None:
        return self.values.get(slice_name)


@dataclass(frozen=True, kw_only=True)
class Backfill:
    """A metric over every version of a model, oldest version first."""

    model: str
    metric: str
    function: str | None  # module:function of a metric of your own; None for a built-in
    higher_is_better: bool
    valset: str  # NAME@VERSION
    valset_id: str
    slices: dict[str, str]  # name to SQL condition; ``all`` (every row) comes first
    confidence: float
    resamples: int
    versions: tuple[BackfilledVersion, ...]

    def failed(self) -> list[BackfilledVersion]:
        return [v for v in self.versions if v.status is BackfillStatus.FAILED]

    def computed(self) -> list[BackfilledVersion]:
        return [v for v in self.versions if v.status is BackfillStatus.COMPUTED]
