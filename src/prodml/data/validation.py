"""Validating a batch against the history of past batches: schema, bounds, drift."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from prodml.data.calibration import ALPHA, SHORT_HISTORY
from prodml.data.charts import charts_for
from prodml.data.checks import apply as apply_checks
from prodml.data.checks import new_column
from prodml.data.measurement import Measurement
from prodml.data.profile import TableProfile, merge_all
from prodml.data.sketches import family
from prodml.data.statistics import measure_column, measure_table
from prodml.domain.validation import Finding, FindingKind, ValidationResult


def validate_profiles(
    batch: TableProfile,
    history: list[TableProfile],
    history_label: str,
    subject: str | None = None,
    extra: list[Finding] | None = None,
    checks: dict[str, Any] | None = None,
    keys: tuple[str, ...] = (),
    alpha: float = ALPHA,
) -> ValidationResult:
    """Every finding about ``batch``, judged against ``history`` (oldest first), at the
    family-wise false-alarm rate ``alpha``.

    With a ``checks`` document, schema and bounds come from it (as the team edited
    them) and only drift is judged against history."""
    findings = list(extra or [])
    notes: list[str] = []
    empty = [h for h in history if h.rows == 0]
    if empty:
        history = [h for h in history if h.rows]
        notes.append(
            f"{len(empty)} past batch(es) in {history_label} have no rows and were left out."
        )
    if batch.rows == 0:
        findings.append(
            Finding(
                kind=FindingKind.HARD,
                column=None,
                statistic="row_count",
                observed=0,
                expected="at least 1 row",
                message=(
                    "The batch is empty: it has no rows. Check the query or export that made it."
                ),
            )
        )
    if checks is not None:
        findings += apply_checks(checks, batch)
        common = [
            c
            for c in batch.columns
            if all(f.column != c or f.kind is not FindingKind.HARD for f in findings)
        ]
        common = [c for c in common if history and c in history[-1].columns]
    else:
        common = _schema(batch, history, findings)
    measurements: list[Measurement] = []
    pooled = (merge_all(history) if len(history) > 1 else history[0]) if history else None
    if pooled is not None and batch.rows:
        measurements += measure_table(history, batch)
        for name in common:
            past = [h.columns[name] for h in history if name in h.columns]
            measurements += measure_column(
                name, past, pooled.columns[name], batch.columns[name], name in keys
            )
    if checks is not None:
        measurements = [m for m in measurements if m.kind is FindingKind.DRIFT]
    tests = len(measurements)
    weighted = max(1, round(tests * ALPHA / alpha))  # a lower alpha is more tests at ALPHA
    for measurement in measurements:
        finding = _judge(measurement, weighted)
        if finding is not None:
            findings.append(finding)
    notes += _history_notes(history, history_label)
    findings.sort(key=lambda f: (-_rank(f.kind), -f.score if math.isfinite(f.score) else -math.inf))
    faulty = [f.column for f in findings if f.column]
    charts = charts_for(batch, pooled, faulty) if pooled is not None and batch.rows else ()
    return ValidationResult(
        findings=tuple(findings),
        history=history_label,
        history_size=len(history),
        rows=batch.rows,
        tests=tests,
        notes=tuple(notes),
        charts=charts,
        subject=subject,
    )


DESCRIBED = {
    "null_share": "The share of missing values",
    "duplicate_share": "The share of duplicate rows",
    "row_count": "The row count",
    "out_of_range_share": "The share of values outside the range seen before",
    "new_category_share": "The share of rows holding the most frequent new value",
    "distribution": "The distribution's largest gap from history (in standard errors)",
    "mean": "The mean",
    "std": "The standard deviation",
    "clamped_mean": "The clamped mean (values clamped into history's middle 98%)",
    "clamped_std": "The clamped standard deviation (values clamped into history's middle 98%)",
}


def _rank(kind: FindingKind) -> int:
    return {FindingKind.HARD: 2, FindingKind.SOFT: 0, FindingKind.DRIFT: 0}[kind]


def _schema(batch: TableProfile, history: list[TableProfile], findings: list[Finding]) -> list[str]:
    """Hard findings for missing columns, changed and mixed types; the columns to judge."""
    for column in batch.columns.values():
        if column.type == "mixed":
            kinds = ", ".join(f"{k} ({n})" for k, n in sorted(column.types.items()))
            findings.append(
                Finding(
                    kind=FindingKind.HARD,
                    column=column.name,
                    statistic="type",
                    observed="mixed",
                    expected="one type",
                    message=f"Column {column.name!r} mixes value types: {kinds}. "
                    "Give it one type at the source.",
                )
            )
    if not history:
        return []
    required = [c for c in history[-1].columns if all(c in h.columns for h in history)]
    known = {c for h in history for c in h.columns}
    missing = [c for c in required if c not in batch.columns]
    for name in missing:
        findings.append(
            Finding(
                kind=FindingKind.HARD,
                column=name,
                statistic="missing_column",
                observed=None,
                expected="present",
                message=f"Column {name!r} is missing; every past batch had it. "
                "Restore it upstream, or edit the checks if it was dropped on purpose.",
            )
        )
    if batch.columns and not set(batch.columns) & known:
        findings.append(
            Finding(
                kind=FindingKind.HARD,
                column=None,
                statistic="columns",
                observed=sorted(batch.columns)[:10],
                expected=sorted(known)[:10],
                message=(
                    "The batch has no column in common with its history: is it the right table?"
                ),
            )
        )
    for name in batch.columns:
        if name not in known:
            findings.append(
                new_column(name, batch.columns[name].type, "is new: no past batch had it")
            )
    common = []
    for name in [c for c in batch.columns if c in known]:
        column = batch.columns[name]
        expected = _usual_type(name, history)
        if column.type == "mixed":
            continue
        if column.type != "null" and expected and family(column.type) != family(expected):
            findings.append(
                Finding(
                    kind=FindingKind.HARD,
                    column=name,
                    statistic="type",
                    observed=column.type,
                    expected=expected,
                    message=f"Column {name!r} is {column.type}; in history it was {expected}. "
                    "Fix the type at the source or cast it before validating.",
                )
            )
            continue
        common.append(name)
    return common


def _usual_type(name: str, history: list[TableProfile]) -> str | None:
    types = Counter(
        h.columns[name].type
        for h in history
        if name in h.columns and h.columns[name].type not in ("null", "mixed")
    )
    return types.most_common(1)[0][0] if types else None


def _judge(measured: Measurement, tests: int) -> Finding | None:
    m, bound = measured.verdict(tests)
    if not bound.breached:
        return None
    expected = [_round(bound.low) if bound.low is not None else None, _round(bound.high)]
    where = f"column {m.column!r}" if m.column else "the table"
    against = (
        f"its history of {bound.history} batches"
        if bound.history >= 2
        else "the reference (allowing twice its sampling noise)"
    )
    unusual = (
        f"{abs(bound.z):.1f} standard deviations from {against}"
        if math.isfinite(bound.z)
        else "never seen in history"
    )
    detail = (
        f" (most frequent new: {', '.join(m.examples)})"
        if m.examples and m.statistic == "new_category_share"
        else ""
    )
    message = m.describe(bound) or (
        f"{DESCRIBED.get(m.statistic, m.statistic)} of {where} is {_round(m.observed)}, "
        f"expected {_interval(expected)}: {unusual}{detail}{_twin_note(measured, m, tests)}."
    )
    return Finding(
        kind=m.kind,
        column=m.column,
        statistic=m.statistic,
        observed=_round(m.observed),
        expected=expected,
        message=message,
        score=round(bound.score, 3),
        z=round(bound.z, 2) if math.isfinite(bound.z) else None,
    )


def _twin_note(measured: Measurement, shown: Measurement, tests: int) -> str:
    """What the robust twin saw, beside the statistic it confirmed; or why the twin
    is shown instead."""
    if measured.robust is None or not measured.twin_judges:
        return ""
    if shown is not measured:
        return (
            f" (the {measured.statistic} of all its values is {_round(measured.observed)}, "
            "within the wider bounds that wild values in past batches give it)"
        )
    twin = measured.robust.judge(tests)
    expected = [_round(twin.low) if twin.low is not None else None, _round(twin.high)]
    return (
        f"; with values clamped into history's middle 98% it is "
        f"{_round(measured.robust.observed)}, expected {_interval(expected)}"
    )


def _interval(expected: list[float | None]) -> str:
    low, high = expected
    return f"at most {high}" if low is None else f"between {low} and {high}"


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return value
    return float(f"{value:.4g}")


def _history_notes(history: list[TableProfile], label: str) -> list[str]:
    if not history:
        return [
            f"No history in {label}: only the schema of the batch was checked. "
            "Log past batches (or partitions) to judge bounds and drift."
        ]
    if len(history) == 1:
        return [
            f"One reference ({label}): bounds allow twice its sampling noise. "
            "Validate against several past batches for bounds calibrated on real variation."
        ]
    if len(history) < SHORT_HISTORY:
        return [
            f"Short history ({len(history)} batches in {label}): bounds are widened "
            f"accordingly; {SHORT_HISTORY} or more past batches give tighter ones."
        ]
    return []
