"""Checks inferred from history, written to YAML a team edits and versions.

Each check says where its bound came from. Schema checks (required columns, types)
are hard; bounds (completeness, ranges, categories, duplicates, row counts, unique
keys) are soft. Bounds are the same calibrated bounds a validation without a
checks file uses, frozen at the typical batch size."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from prodml import yaml_text
from prodml.data.calibration import ALPHA
from prodml.data.profile import TableProfile, merge_all
from prodml.data.sketches import CATEGORICAL, family
from prodml.data.statistics import Measurement, measure_column, measure_table
from prodml.domain.validation import Finding, FindingKind
from prodml.errors import InvalidInputError

MAX_LISTED = 200
FORMAT = 1
_HEADER = (
    "# Checks inferred by prodml from the history below. Edit the bounds, keep this file\n"
    "# under version control, and validate with: prodml validate FILE --checks THIS_FILE\n"
    "# Schema checks (required, type) are hard and block; the others are soft and warn.\n"
)


def infer(history: list[TableProfile], label: str, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    if not history:
        raise InvalidInputError(
            f"No history in {label} to infer checks from. Log versions of the dataset first: "
            "prodml datasets log NAME FILE"
        )
    pooled = merge_all(history) if len(history) > 1 else history[0]
    typical = _typical(history)
    measurements = measure_table(history, typical)
    for name in pooled.columns:
        past = [h.columns[name] for h in history if name in h.columns]
        measurements += measure_column(
            name, past, pooled.columns[name], typical.columns[name], name in keys
        )
    soft = [m for m in measurements if m.kind is FindingKind.SOFT]
    bounds = {(m.column, m.statistic): _bound(m, len(soft)) for m in soft}
    n = len(history)
    columns: dict[str, Any] = {}
    for name, column in pooled.columns.items():
        present = sum(name in h.columns for h in history)
        entry: dict[str, Any] = {
            "required": {"expect": present == n, "from": f"present in {present} of {n} batches"},
            "type": {"expect": column.type, "from": f"type in {label}"},
        }
        if (name, "null_share") in bounds:
            entry["null_share"] = bounds[(name, "null_share")]
        if (name, "out_of_range_share") in bounds and column.minimum is not None:
            entry["range"] = {
                "min": column.minimum,
                "max": column.maximum,
                "max_outside_share": bounds[(name, "out_of_range_share")]["max"],
                "from": f"min and max over {n} batches; outside share "
                + bounds[(name, "out_of_range_share")]["from"],
            }
        if column.kind == CATEGORICAL and (name, "new_category_share") in bounds:
            counts = column.counts()
            listed = sorted(counts, key=counts.__getitem__, reverse=True)[:MAX_LISTED]
            entry["categories"] = {
                "allowed": sorted(listed) if len(counts) <= MAX_LISTED else None,
                "max_new_share": bounds[(name, "new_category_share")]["max"],
                "from": f"{len(counts)} values seen in {n} batches; new share "
                + bounds[(name, "new_category_share")]["from"],
            }
        columns[name] = entry
    table: dict[str, Any] = {"duplicate_share": bounds[(None, "duplicate_share")]}
    if (None, "row_count") in bounds:
        table["row_count"] = bounds[(None, "row_count")]
    if keys:
        table["unique"] = {"columns": list(keys), "from": "the dataset's key"}
    return {
        "format": FORMAT,
        "history": label,
        "batches": n,
        "inferred_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "table": table,
        "columns": columns,
    }


def _typical(history: list[TableProfile]) -> TableProfile:
    """The batch whose row count is the median: bounds depend on batch size."""
    ordered = sorted(history, key=lambda h: h.rows)
    return ordered[len(ordered) // 2]


def _bound(m: Measurement, tests: int) -> dict[str, Any]:
    values = [v for v in m.history if math.isfinite(v)]
    center = sum(values) / len(values) if values else 0.0
    bound = m.judge(tests, center)
    spread = f"{bound.q:.2f} sd ({m.scale.name} scale, sd {bound.spread:.3g})"
    source = (
        f"mean {center:.4g} over {len(values)} batches + {spread}, for a {ALPHA:.0%} "
        f"false-alarm rate over {tests} checks; at least {m.min_effect:.3g} from the mean"
    )
    high = bound.high if bound.high is None or m.scale.name != "share" else min(bound.high, 1.0)
    doc: dict[str, Any] = {"max": _round(high)}
    if bound.low is not None:
        doc = {"min": _round(max(bound.low, 0.0)), **doc}
    doc["from"] = source
    return doc


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return value
    return float(f"{value:.4g}")


def write(doc: dict[str, Any], path: Path) -> None:
    text = _HEADER + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(
            f"Cannot write the checks to {path}: {error.strerror}. Choose a folder that exists."
        ) from None


def read(path: Path) -> dict[str, Any]:
    """A checks document from a YAML file, checked (errors name the file)."""
    return parse(yaml_text.read(path, "checks file"), f"Checks file {path}")


def load(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A checks document from a YAML file or a mapping, checked."""
    if isinstance(source, Mapping):
        return parse(source, "Checks")
    return read(Path(source))


def parse(document: Any, what: str = "Checks") -> dict[str, Any]:
    """The document, once its every field has the shape a check needs."""
    from prodml import documents
    from prodml.data.checks_document import ChecksDocument

    documents.check(ChecksDocument, document, what)
    return dict(document)


def unique_columns(doc: dict[str, Any]) -> tuple[str, ...]:
    """The key columns a checks document declares unique."""
    unique = (doc.get("table") or {}).get("unique") or {}
    return tuple(unique.get("columns") or ())


def apply(doc: dict[str, Any], batch: TableProfile) -> list[Finding]:
    """Hard and soft findings of a batch against a checks document (read by ``parse``)."""
    found: list[Finding] = []
    table = doc.get("table") or {}
    for name, spec in (doc.get("columns") or {}).items():
        spec = spec or {}
        column = batch.columns.get(name)
        if column is None:
            if (spec.get("required") or {}).get("expect", True):
                found.append(
                    _hard(
                        name,
                        "missing_column",
                        None,
                        "present",
                        f"Column {name!r} is missing; the checks require it.",
                    )
                )
            continue
        expected_type = (spec.get("type") or {}).get("expect")
        if (
            expected_type
            and column.type not in ("null",)
            and (column.type == "mixed" or family(column.type) != family(str(expected_type)))
        ):
            found.append(
                _hard(
                    name,
                    "type",
                    column.type,
                    expected_type,
                    f"Column {name!r} is {column.type}; the checks expect {expected_type}.",
                )
            )
            continue
        found += _column_bounds(name, spec, column, batch.rows)
    if table.get("duplicate_share"):
        found += _over(None, "duplicate_share", batch.duplicate_share, table["duplicate_share"])
    if table.get("row_count"):
        found += _over(None, "row_count", float(batch.rows), table["row_count"])
    for name in batch.columns:
        if name not in (doc.get("columns") or {}):
            found.append(new_column(name, batch.columns[name].type, "is not in the checks"))
    return found


def _column_bounds(name: str, spec: dict[str, Any], column: Any, rows: int) -> list[Finding]:
    found: list[Finding] = []
    if spec.get("null_share"):
        found += _over(name, "null_share", column.null_share, spec["null_share"])
    if spec.get("range") and column.kll is not None and rows:
        low, high = spec["range"].get("min"), spec["range"].get("max")
        outside = 0.0
        if low is not None and column.minimum < low:
            outside += float(column.kll.get_rank(low, inclusive=False)) * column.valid / rows
        if high is not None and column.maximum > high:
            outside += (1 - float(column.kll.get_rank(high, inclusive=True))) * column.valid / rows
        found += _over(
            name,
            "out_of_range_share",
            outside,
            {"max": spec["range"].get("max_outside_share", 0.0)},
        )
    if spec.get("categories") and column.items is not None and rows:
        allowed = spec["categories"].get("allowed")
        if allowed is not None:
            counts = column.counts()
            new = {k: c for k, c in counts.items() if k not in set(map(str, allowed))}
            top = max(new.values(), default=0) / rows
            found += _over(
                name,
                "new_category_share",
                top,
                {"max": spec["categories"].get("max_new_share", 0.0)},
                sorted(new, key=new.__getitem__, reverse=True)[:5],
            )
    return found


def _over(
    column: str | None,
    statistic: str,
    observed: float,
    spec: dict[str, Any],
    examples: list[str] | None = None,
) -> list[Finding]:
    low, high = spec.get("min"), spec.get("max")
    if (high is None or observed <= high) and (low is None or observed >= low):
        return []
    where = f"column {column!r}" if column else "the table"
    limit = high if high is not None and observed > high else low
    score = abs(observed) / abs(limit) if limit else math.inf
    extra = f" (new: {', '.join(examples)})" if examples else ""
    return [
        Finding(
            kind=FindingKind.SOFT,
            column=column,
            statistic=statistic,
            observed=_round(observed),
            expected=[low, high],
            message=f"{statistic} of {where} is {_round(observed)}, the checks allow "
            f"{low if low is not None else '-'} to {high if high is not None else '-'}{extra}.",
            score=round(score, 3),
        )
    ]


def new_column(name: str, type_name: str, why: str) -> Finding:
    return Finding(
        kind=FindingKind.SOFT,
        column=name,
        statistic="new_column",
        observed=type_name,
        expected=None,
        message=f"Column {name!r} {why}.",
        score=1.0,
    )


def _hard(column: str, statistic: str, observed: Any, expected: Any, message: str) -> Finding:
    return Finding(
        kind=FindingKind.HARD,
        column=column,
        statistic=statistic,
        observed=observed,
        expected=expected,
        message=message,
    )
