"""Validation results: findings classed hard, soft or drift, ranked by how unusual."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class FindingKind(StrEnum):
    HARD = "hard"  # schema, type, required column: blocks by default
    SOFT = "soft"  # a bound or completeness breached: warn
    DRIFT = "drift"  # the distribution changed: investigate or retrain


ACTIONS = {
    FindingKind.HARD: "block: fix the data or force with a reason",
    FindingKind.SOFT: "warn: check the source of the data",
    FindingKind.DRIFT: "investigate, and consider retraining",
}


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One statistic of one column (or of the table, ``column=None``) out of bounds.

    ``score`` is how far past its bound the observation is, in units of the bound
    (1.0 is on the bound; hard findings score infinity); ``z`` is the deviation in
    standard deviations of the statistic's batch-to-batch variation in history."""

    kind: FindingKind
    column: str | None
    statistic: str
    observed: Any
    expected: Any
    message: str
    score: float = float("inf")
    z: float | None = None

    @property
    def action(self) -> str:
        return ACTIONS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = self.kind.value
        out["action"] = self.action
        if not math.isfinite(self.score):  # hard findings: JSON has no infinity
            out["score"] = None
        return out


@dataclass(frozen=True, kw_only=True)
class ColumnChart:
    """Reference and current distribution of one column, for reports."""

    column: str
    kind: str  # "numeric" or "categorical"
    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class ValidationResult:
    """Everything a validation found, most unusual first, and what it was judged on."""

    findings: tuple[Finding, ...]
    history: str
    history_size: int
    rows: int
    tests: int
    notes: tuple[str, ...] = ()
    charts: tuple[ColumnChart, ...] = field(default=(), repr=False)
    subject: str | None = None

    @property
    def alarm(self) -> bool:
        """True when anything here deserves a person's attention."""
        return bool(self.findings)

    @property
    def blocked(self) -> bool:
        return any(f.kind is FindingKind.HARD for f in self.findings)

    def of_kind(self, kind: FindingKind | str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == FindingKind(kind))

    @property
    def columns_at_fault(self) -> tuple[str, ...]:
        """Columns ranked by their most unusual finding, most likely at fault first."""
        ranked: list[str] = []
        for finding in self.findings:
            if finding.column is not None and finding.column not in ranked:
                ranked.append(finding.column)
        return tuple(ranked)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "alarm": self.alarm,
            "blocked": self.blocked,
            "history": self.history,
            "history_size": self.history_size,
            "rows": self.rows,
            "tests": self.tests,
            "columns_at_fault": list(self.columns_at_fault),
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        """The record in a notebook."""
        from prodml.domain import display

        return display.validation(self)


@dataclass(frozen=True)
class RecordedValidation:
    """A stored validation of a logged dataset version: its id, when it ran, and what it
    found (with charts of the version against the earlier versions when read back)."""

    id: str
    at: datetime
    result: ValidationResult


@dataclass(frozen=True, kw_only=True)
class ValidationRecord:
    """A validation as the store keeps it: what was checked against what, whether it
    alarmed or blocked, and the result document (findings, history, notes)."""

    id: str
    version_id: str | None  # the dataset version checked (None: a file or table given)
    subject: str
    against: str
    alarm: bool
    blocked: bool
    result: dict[str, Any]
    author: str
    created_at: datetime
