"""Validations of logged versions read back from the store, with charts drawn again from
the stored profiles (the store keeps the findings, not the charts)."""

from __future__ import annotations

import math
from typing import Any

from prodml.client import Client
from prodml.data.charts import charts_for
from prodml.data.history import resolve_history
from prodml.data.profile import merge_all
from prodml.data.stored_profiles import profiles_of
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.domain.validation import (
    ColumnChart,
    Finding,
    FindingKind,
    RecordedValidation,
    ValidationResult,
)


def latest(
    client: Client, version: DatasetVersion, charts: bool = True
) -> RecordedValidation | None:
    """The newest validation of ``version``, or None when it was never validated."""
    stored = client.metadata.latest_validation(version.id)
    if stored is None:
        return None
    result = _result(stored.result)
    if charts and version.kind is DatasetKind.TABLE:
        drawn, note = _charts(client, version, result)
        notes = (*result.notes, note) if note else result.notes
        result = ValidationResult(
            findings=result.findings,
            history=result.history,
            history_size=result.history_size,
            rows=result.rows,
            tests=result.tests,
            notes=notes,
            charts=drawn,
            subject=result.subject,
        )
    return RecordedValidation(stored.id, stored.created_at, result)


def _result(stored: dict[str, Any]) -> ValidationResult:
    return ValidationResult(
        findings=tuple(_finding(found) for found in stored.get("findings", [])),
        history=str(stored.get("history", "")),
        history_size=int(stored.get("history_size", 0)),
        rows=int(stored.get("rows", 0)),
        tests=int(stored.get("tests", 0)),
        notes=tuple(str(note) for note in stored.get("notes", [])),
        subject=stored.get("subject"),
    )


def _finding(stored: dict[str, Any]) -> Finding:
    score = stored.get("score")
    return Finding(
        kind=FindingKind(stored["kind"]),
        column=stored.get("column"),
        statistic=str(stored.get("statistic", "")),
        observed=stored.get("observed"),
        expected=stored.get("expected"),
        message=str(stored.get("message", "")),
        score=math.inf if score is None else float(score),
        z=stored.get("z"),
    )


def _charts(
    client: Client, version: DatasetVersion, result: ValidationResult
) -> tuple[tuple[ColumnChart, ...], str | None]:
    """The version against the clean versions of its dataset before it: the history
    a validation against the dataset's name uses."""
    history = resolve_history(client, version.name, None, version)
    if not history.profiles:
        return (), None
    batch = profiles_of(client, version)[0]
    charts = charts_for(batch, merge_all(history.profiles), list(result.columns_at_fault))
    note = None
    if history.label != result.history:
        note = f"The distributions are drawn against {history.label}."
    return charts, note
