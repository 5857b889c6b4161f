"""Leakage between a training set and its validation set: what is declared, what was found.

Three checks, each run when its declaration is given:

- **key overlap**: validation rows whose key (one or more declared columns) also
  appears in training. The model was scored on rows it learnt from. A key with a null
  in any of its columns never matches. Hard by default; ``max_overlap`` allows a share
  (overlap up to it is soft).
- **time order**: with a declared time column, validation rows earlier than the
  training set's latest time: a split meant to be temporal that is not one. Hard.
- **post-label features**: columns whose values become known only after the label
  (``known_after_label``), or the label itself, among the training features. Hard.

Findings are validation findings (:class:`prodml.domain.validation.Finding`): a hard one
blocks a training step unless forced with a reason, which is recorded."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from prodml.domain.validation import Finding, FindingKind


@dataclass(frozen=True, kw_only=True)
class LeakageDeclarations:
    """What the checks need to know about the data. ``features`` None: every training
    column but the label (as a suite's ``features`` defaults)."""

    keys: tuple[str, ...] = ()
    time_column: str | None = None
    known_after_label: tuple[str, ...] = ()
    features: tuple[str, ...] | None = None
    label: str | None = None
    max_overlap: float = 0.0  # the share of validation rows whose key may be in training

    @property
    def declared(self) -> bool:
        """True when at least one check has what it needs."""
        return bool(self.keys or self.time_column or self.known_after_label or self.label)

    def overridden(self, **given: Any) -> LeakageDeclarations:
        """These declarations with the values given (None leaves one as it is)."""
        return replace(self, **{name: value for name, value in given.items() if value is not None})


@dataclass(frozen=True, kw_only=True)
class KeyOverlap:
    """Validation rows whose key also appears in training."""

    keys: tuple[str, ...]
    rows: int
    share: float  # of all validation rows
    examples: tuple[dict[str, Any], ...]  # a few overlapping keys
    null_keys: int  # validation rows with a null in a key column: never matched


@dataclass(frozen=True, kw_only=True)
class TimeOrder:
    """Validation rows earlier than the training set's latest time."""

    column: str
    rows: int
    share: float  # of all validation rows
    train_latest: date | None  # a datetime for timestamps; None when training has no time
    valid_earliest: date | None


@dataclass(frozen=True, kw_only=True)
class LeakageResult:
    """Every leakage finding between ``train`` and ``valid``, hard ones first."""

    train: str
    valid: str
    train_rows: int
    valid_rows: int
    checks: tuple[str, ...]  # the checks that ran: keys, time, post_label
    findings: tuple[Finding, ...]
    key_overlap: KeyOverlap | None = None
    time_order: TimeOrder | None = None
    post_label: tuple[str, ...] = ()  # post-label columns (or the label) among the features
    notes: tuple[str, ...] = ()
    forced: str | None = None  # the reason hard findings were let through

    @property
    def blocked(self) -> bool:
        """True when a hard finding was found (forced or not)."""
        return any(f.kind is FindingKind.HARD for f in self.findings)

    @property
    def refused(self) -> bool:
        """True when a hard finding stands: found and not forced."""
        return self.blocked and self.forced is None

    def of_kind(self, kind: FindingKind | str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == FindingKind(kind))

    def to_dict(self) -> dict[str, Any]:
        overlap, order = self.key_overlap, self.time_order
        return {
            "train": self.train,
            "valid": self.valid,
            "train_rows": self.train_rows,
            "valid_rows": self.valid_rows,
            "checks": list(self.checks),
            "blocked": self.blocked,
            "forced": self.forced,
            "findings": [f.to_dict() for f in self.findings],
            "key_overlap": None if overlap is None else _overlap_dict(overlap),
            "time_order": None if order is None else _order_dict(order),
            "post_label": list(self.post_label),
            "notes": list(self.notes),
        }


def _overlap_dict(overlap: KeyOverlap) -> dict[str, Any]:
    return {
        "keys": list(overlap.keys),
        "rows": overlap.rows,
        "share": _finite(overlap.share),
        "examples": [{k: _plain(v) for k, v in e.items()} for e in overlap.examples],
        "null_keys": overlap.null_keys,
    }


def _order_dict(order: TimeOrder) -> dict[str, Any]:
    return {
        "column": order.column,
        "rows": order.rows,
        "share": _finite(order.share),
        "train_latest": _plain(order.train_latest),
        "valid_earliest": _plain(order.valid_earliest),
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """A value JSON keeps: times as ISO text, other values as they are."""
    return value.isoformat() if isinstance(value, date) else value


def hard(column: str | None, statistic: str, observed: Any, expected: Any, message: str) -> Finding:
    return Finding(
        kind=FindingKind.HARD,
        column=column,
        statistic=statistic,
        observed=observed,
        expected=expected,
        message=message,
    )
