"""Monitoring records: a window's findings, the alert they raise, the incident it opens.

An alert's class is that of its gravest finding: ``hard`` (something is broken: a
column vanished, requests fail, an SLO is breached), ``soft`` (a bound is breached:
more nulls, slower answers) or ``drift`` (a distribution moved). Each class has a
default action, so the person paged knows where to start."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class AlertClass(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    DRIFT = "drift"


class AlertState(StrEnum):
    OPEN = "open"
    ACKED = "acked"  # acted on: the alert was worth waking up for
    IGNORED = "ignored"  # not worth it: its windows count as normal history from now on


DEFAULT_ACTIONS = {
    AlertClass.HARD: "roll back or switch to the fallback, then find what broke",
    AlertClass.SOFT: "check the source of the inputs (an upstream change?) or the serving host",
    AlertClass.DRIFT: "investigate the shift; retrain on recent data if it persists",
}
SEVERITIES = ("info", "warning", "high", "critical")  # least to most urgent


@dataclass(frozen=True, kw_only=True)
class Signal:
    """One unusual statistic in one window: a column's drift, a slice's accuracy, an SLO.

    ``monitor`` is ``inputs``, ``predictions``, ``operations``, ``quality`` or
    ``slo``; ``subject`` the column, slice or SLO name; ``score`` how far past its
    bound (1.0 on it; infinity when no bound applies, as for a vanished column)."""

    monitor: str
    subject: str
    statistic: str
    kind: AlertClass
    observed: Any
    expected: Any
    message: str
    score: float = math.inf

    @property
    def key(self) -> str:
        return f"{self.monitor}:{self.subject}:{self.statistic}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = self.kind.value
        out["score"] = self.score if math.isfinite(self.score) else None
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Signal:
        score = doc.get("score")
        return cls(
            monitor=doc["monitor"],
            subject=doc["subject"],
            statistic=doc["statistic"],
            kind=AlertClass(doc["kind"]),
            observed=doc.get("observed"),
            expected=doc.get("expected"),
            message=doc.get("message", ""),
            score=math.inf if score is None else float(score),
        )


@dataclass(frozen=True, kw_only=True)
class Alert:
    id: str
    model: str
    kind: AlertClass
    severity: str
    title: str
    signals: tuple[Signal, ...]
    window_start: datetime  # the first window it covers
    window_end: datetime  # the end of the last window it covers
    windows: int  # how many windows raised it (repeats are folded in)
    state: AlertState
    created_at: datetime
    context: dict[str, Any] = field(default_factory=dict, repr=False)
    decided_by: str | None = None
    decided_at: datetime | None = None
    why: str | None = None
    incident_id: str | None = None

    @property
    def action(self) -> str:
        return DEFAULT_ACTIONS[self.kind]

    @property
    def monitors(self) -> tuple[str, ...]:
        return tuple(sorted({s.monitor for s in self.signals}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "class": self.kind.value,
            "severity": self.severity,
            "title": self.title,
            "action": self.action,
            "state": self.state.value,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "windows": self.windows,
            "created_at": self.created_at.isoformat(),
            "signals": [s.to_dict() for s in self.signals],
            "context": self.context,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "why": self.why,
            "incident_id": self.incident_id,
        }

    def _repr_html_(self) -> str:
        """The record in a notebook."""
        from prodml.domain import display

        return display.alert(self)


@dataclass(frozen=True, kw_only=True)
class Incident:
    id: str
    model: str
    title: str
    state: str  # open or closed
    opened_at: datetime
    opened_by: str
    alert_ids: tuple[str, ...]
    closed_at: datetime | None = None
    resolution: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["opened_at"] = self.opened_at.isoformat()
        out["closed_at"] = self.closed_at.isoformat() if self.closed_at else None
        out["alert_ids"] = list(self.alert_ids)
        return out

    def _repr_html_(self) -> str:
        """The record in a notebook."""
        from prodml.domain import display

        return display.incident(self)


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, kw_only=True)
class Window:
    """One evaluated window of a model's monitor: ``traffic`` (judged when it closes) or
    ``labels`` (judged once its labels had time to arrive). Times are epoch seconds."""

    model: str
    kind: str
    start: float
    end: float
    rows: int
    profile: str | None  # digest of the profile of the window's inputs
    stats: dict[str, Any]  # the figures the window was judged on
    evaluated_at: datetime | None = None  # None until stored
    alert_id: str | None = None  # the alert it raised
    alert_state: AlertState | None = None  # that alert's state now

    @property
    def held(self) -> bool:
        """A mild drift held back until the next window confirms it."""
        return "held" in self.stats
