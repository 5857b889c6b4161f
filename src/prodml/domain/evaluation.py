"""Evaluations: metrics per validation set and slice with bootstrap intervals,
champion-vs-challenger differences and three-valued gate verdicts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

ALL = "all"  # the slice holding every row of a validation set


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # too little data or an undefined value: never a pass


@dataclass(frozen=True)
class Estimate:
    """A metric's value with its bootstrap interval; NaN where undefined."""

    value: float
    low: float
    high: float
    rows: int

    @property
    def defined(self) -> bool:
        return math.isfinite(self.value)


@dataclass(frozen=True)
class Score:
    """One metric on one slice of one validation set."""

    valset: str
    slice: str
    metric: str
    estimate: Estimate


@dataclass(frozen=True, kw_only=True)
class EvaluationFinding:
    """Something that keeps a number from meaning what it says: a model that raised,
    a slice with no rows, a metric that returned NaN."""

    kind: str
    message: str
    valset: str | None = None
    slice: str | None = None
    metric: str | None = None


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """One model version scored by its suite on named dataset versions."""

    id: str
    model: str
    model_id: str
    suite_version: int
    valsets: tuple[str, ...]
    slices: dict[str, str]
    scores: tuple[Score, ...]
    findings: tuple[EvaluationFinding, ...]
    created_at: datetime
    author: str
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    guardrails: int | None = None
    resamples: int = 0
    confidence: float = 0.95

    def estimate(self, valset: str, slice_name: str, metric: str) -> Estimate | None:
        for score in self.scores:
            if (score.valset, score.slice, score.metric) == (valset, slice_name, metric):
                return score.estimate
        return None

    @property
    def metrics(self) -> list[str]:
        return list(dict.fromkeys(score.metric for score in self.scores))

    def _repr_html_(self) -> str:
        """The record in a notebook."""
        from prodml.domain import display

        return display.evaluation(self)


@dataclass(frozen=True, kw_only=True)
class Difference:
    """Candidate minus baseline on one slice and metric, with the paired interval."""

    valset: str
    slice: str
    metric: str
    baseline: Estimate
    candidate: Estimate
    diff: Estimate
    higher_is_better: bool

    @property
    def worse_by(self) -> float:
        """How much worse the candidate looks (negative when better)."""
        return -self.diff.value if self.higher_is_better else self.diff.value

    @property
    def worse_bounds(self) -> tuple[float, float]:
        """The interval of ``worse_by``: (least, most) worse the candidate may be."""
        if self.higher_is_better:
            return -self.diff.high, -self.diff.low
        return self.diff.low, self.diff.high

    @property
    def certain_regression(self) -> bool:
        """The whole interval lies on the worse side of zero."""
        return self.certain_regression_beyond(0.0)

    def certain_regression_beyond(self, tolerance: float) -> bool:
        if not self.diff.defined:
            return False
        if self.higher_is_better:
            return self.diff.high < -tolerance
        return self.diff.low > tolerance

    @property
    def observed_regression(self) -> bool:
        return self.diff.defined and self.worse_by > 0


@dataclass(frozen=True, kw_only=True)
class Check:
    """One gate rule applied to one place: pass, fail or inconclusive, and why."""

    rule: str
    verdict: Verdict
    why: str
    valset: str | None = None
    slice: str | None = None
    metric: str | None = None


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    checks: tuple[Check, ...]
    baseline: str | None = None
    notes: tuple[str, ...] = ()

    def failing(self) -> list[Check]:
        return [check for check in self.checks if check.verdict is Verdict.FAIL]

    def inconclusive(self) -> list[Check]:
        return [check for check in self.checks if check.verdict is Verdict.INCONCLUSIVE]


def combine(verdicts: list[Verdict]) -> Verdict:
    """Any fail fails; otherwise any inconclusive (or none at all) is inconclusive."""
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if not verdicts or Verdict.INCONCLUSIVE in verdicts:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


@dataclass(frozen=True)
class Comparison:
    """Candidate against baseline on the same rows; ``gate`` when the suite has one."""

    baseline: Evaluation | None
    candidate: Evaluation
    differences: tuple[Difference, ...]
    gate: GateResult | None = None

    def regressions(self) -> list[Difference]:
        return [d for d in self.differences if d.certain_regression]

    def _repr_html_(self) -> str:
        """The record in a notebook."""
        from prodml.domain import display

        return display.comparison(self)


@dataclass(frozen=True, kw_only=True)
class SuiteRecord:
    """One stored version of a model's evaluation suite: the document as registered."""

    name: str  # the model the suite judges
    version: int
    document: dict[str, Any]
    author: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class EvaluationRecord:
    """One stored evaluation of a model version on its suite (with a comparison's
    baseline and the gate's verdict); ``result`` is the evaluation's document."""

    id: str
    model_id: str
    suite_version: int
    baseline_id: str | None  # the evaluation it was compared against
    verdict: str | None  # the gate's, for a comparison
    result: dict[str, Any]
    author: str
    created_at: datetime

    @property
    def document(self) -> dict[str, Any]:
        """The result with the comparison's verdict and baseline, as readers of stored
        evaluations take it."""
        return {**self.result, "verdict": self.verdict, "baseline_id": self.baseline_id}
