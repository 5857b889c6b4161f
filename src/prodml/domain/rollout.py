"""A rollout: a candidate version taken through stages (shadow, canary steps, full)
against the champion, each step judged on live traffic before the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SHADOW, CANARY, FULL = "shadow", "canary", "full"
STAGES = (SHADOW, CANARY, FULL)

RUNNING, PAUSED = "running", "paused"
COMPLETED, ROLLED_BACK, ABORTED = "completed", "rolled_back", "aborted"
ACTIVE_STATES = (RUNNING, PAUSED)
FINAL_STATES = (COMPLETED, ROLLED_BACK, ABORTED)


@dataclass(frozen=True, kw_only=True)
class Criteria:
    """Limits a step must be certainly within; None leaves that check out."""

    max_error_rate: float | None = 0.01
    max_p99_ms: float | None = None
    max_p99_ratio: float | None = None
    min_agreement: float | None = None
    max_distance: float | None = None
    metric: str | None = None
    max_metric_drop: float | None = None
    min_labels: int = 100
    confidence: float = 0.95  # of each check over all the controller's looks at a step


@dataclass(frozen=True, kw_only=True)
class Step:
    """One traffic step: the candidate answers ``share`` of requests (0 in shadow)."""

    stage: str
    share: float
    min_duration: float
    min_requests: int
    max_duration: float | None
    criteria: Criteria

    @property
    def label(self) -> str:
        return f"{self.stage} {self.share:.0%}" if self.stage == CANARY else self.stage


@dataclass(frozen=True)
class RoutingKey:
    """Where a request's sticky key is read: a header or an input field."""

    source: str  # "header" | "field"
    name: str


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    routing_key: RoutingKey | None = None
    document: dict[str, object] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class Rollout:
    id: str
    model: str
    candidate: int
    baseline: int
    plan: Plan
    state: str
    step: int
    step_started_at: datetime
    created_at: datetime
    updated_at: datetime
    actor: str
    reason: str | None = None  # given at the start
    ended_by: str | None = None  # who ended it: the controller's user, or a person
    end_reason: str | None = None  # why it ended: the controller's verdict, or the reason given

    @property
    def current(self) -> Step:
        return self.plan.steps[min(self.step, len(self.plan.steps) - 1)]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def share(self) -> float:
        """The share of traffic the candidate answers now (0 unless running or paused)."""
        return self.current.share if self.active else 0.0
