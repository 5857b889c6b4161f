"""Leakage checks over two Arrow tables (see :mod:`prodml.domain.leakage` for the three
checks and their verdicts). Keys are matched by one hash join (a semi join of the
validation keys on the training keys), times by one maximum and one comparison: never
a loop over rows, so millions of rows take about a second."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from prodml.data.leakage_columns import check_declared, common_type, key_columns
from prodml.domain.leakage import (
    KeyOverlap,
    LeakageDeclarations,
    LeakageResult,
    TimeOrder,
    hard,
)
from prodml.domain.validation import Finding, FindingKind

EXAMPLES = 5  # overlapping keys shown in a finding


def check_leakage(
    train: pa.Table,
    valid: pa.Table,
    declared: LeakageDeclarations,
    train_label: str = "the training set",
    valid_label: str = "the validation set",
) -> LeakageResult:
    """Every leakage finding between ``train`` and ``valid``, hard ones first; a
    declaration naming a missing column or mismatched types is refused naming it."""
    check_declared(train, valid, declared, train_label, valid_label)
    findings: list[Finding] = []
    notes: list[str] = []
    checks: list[str] = []
    overlap = order = None
    if declared.keys:
        checks.append("keys")
        overlap = key_overlap(train, valid, declared.keys)
        findings += _overlap_findings(overlap, declared.max_overlap, valid.num_rows)
        if overlap.null_keys:
            notes.append(
                f"{overlap.null_keys:,} validation row(s) have a null in a key column; "
                "a null never matches, so they were not counted as overlap."
            )
    if declared.time_column:
        checks.append("time")
        order = time_order(train, valid, declared.time_column)
        findings += _order_findings(order, valid.num_rows)
        notes += _time_notes(train, valid, order)
    post = post_label_features(train, declared)
    if declared.known_after_label or declared.label:
        checks.append("post_label")
        findings += [_post_label_finding(column, declared) for column in post]
        notes += _undeclared_notes(train, valid, declared)
    notes += _unchecked_notes(declared)
    findings.sort(key=lambda f: f.kind is not FindingKind.HARD)
    return LeakageResult(
        train=train_label,
        valid=valid_label,
        train_rows=train.num_rows,
        valid_rows=valid.num_rows,
        checks=tuple(checks),
        findings=tuple(findings),
        key_overlap=overlap,
        time_order=order,
        post_label=tuple(post),
        notes=tuple(notes),
    )


def key_overlap(train: pa.Table, valid: pa.Table, keys: tuple[str, ...]) -> KeyOverlap:
    """Validation rows whose key (every key column equal) is also a training key: a
    semi join in DuckDB (several times faster than Arrow's on two cores), where a
    null equals nothing."""
    from prodml.data import kept_duckdb

    left, right = key_columns(valid, train, keys)
    columns = ", ".join(left.column_names)  # k0, k1, ...: names of our own, no quoting
    matched = f"SELECT {columns} FROM valid WHERE ({columns}) IN (SELECT {columns} FROM train)"
    with kept_duckdb.connection(left.num_rows + right.num_rows) as connection:
        connection.register("valid", left)
        connection.register("train", right)
        shown = connection.sql(  # the first keys, each row with the count of all
            f"WITH matched AS MATERIALIZED ({matched}) SELECT * FROM "
            f"(FROM matched GROUP BY ALL ORDER BY ALL LIMIT {EXAMPLES}), "
            "(SELECT count(*) AS matched_rows FROM matched)"
        ).to_arrow_table()
    rows = int(shown.column("matched_rows")[0].as_py()) if shown.num_rows else 0
    shown = shown.drop_columns(["matched_rows"])
    examples = tuple(dict(zip(keys, row.values(), strict=True)) for row in shown.to_pylist())
    return KeyOverlap(
        keys=keys,
        rows=rows,
        share=rows / valid.num_rows if valid.num_rows else 0.0,
        examples=examples,
        null_keys=left.num_rows - _complete_rows(left),
    )


def time_order(train: pa.Table, valid: pa.Table, column: str) -> TimeOrder:
    """Validation rows earlier than the latest time of training (nulls are neither)."""
    kind = common_type(train.schema.field(column).type, valid.schema.field(column).type, column)
    times = valid.column(column).cast(kind)
    latest = pc.max(train.column(column).cast(kind))
    earlier = 0 if not latest.is_valid else pc.sum(pc.less(times, latest)).as_py() or 0
    return TimeOrder(
        column=column,
        rows=earlier,
        share=earlier / valid.num_rows if valid.num_rows else 0.0,
        train_latest=latest.as_py(),
        valid_earliest=pc.min(times).as_py(),
    )


def post_label_features(train: pa.Table, declared: LeakageDeclarations) -> list[str]:
    """The label and the columns known only after it, among the training features
    (declared, or every training column but the label)."""
    features = declared.features
    if features is None:
        features = tuple(c for c in train.column_names if c != declared.label)
    leaking = {*declared.known_after_label, *([declared.label] if declared.label else [])}
    return [column for column in features if column in leaking]


def _complete_rows(table: pa.Table) -> int:
    """The rows with no null in any column."""
    if not any(column.null_count for column in table.columns):
        return int(table.num_rows)
    mask = pc.is_valid(table.column(0))
    for column in table.columns[1:]:
        mask = pc.and_(mask, pc.is_valid(column))
    return int(pc.sum(mask).as_py() or 0)


def _overlap_findings(overlap: KeyOverlap, allowed: float, rows: int) -> list[Finding]:
    if not overlap.rows:
        return []
    keys = ", ".join(overlap.keys)
    shown = "; ".join(
        ", ".join(f"{k}={v!r}" for k, v in e.items())
        if len(e) > 1
        else repr(next(iter(e.values())))
        for e in overlap.examples
    )
    message = (
        f"{overlap.rows:,} of {rows:,} validation rows ({overlap.share:.2%}) have a key "
        f"({keys}) that is also in training, e.g. {shown}. The model is scored on rows it "
        "learnt from: split by key (every row of a key on one side)"
    )
    if overlap.share <= allowed:
        return [
            Finding(
                kind=FindingKind.SOFT,
                column=keys,
                statistic="key_overlap",
                observed=_round(overlap.share),
                expected=allowed,
                message=f"{message}; within max_overlap {allowed:g}.",
                score=round(overlap.share / allowed, 3),
            )
        ]
    return [
        hard(
            keys,
            "key_overlap",
            _round(overlap.share),
            allowed,
            f"{message}, or allow a share of validation rows with max_overlap (now {allowed:g}).",
        )
    ]


def _order_findings(order: TimeOrder, rows: int) -> list[Finding]:
    if not order.rows:
        return []
    message = (
        f"{order.rows:,} of {rows:,} validation rows ({order.share:.2%}) are earlier than "
        f"the latest {order.column} of training ({order.train_latest}); the earliest is "
        f"{order.valid_earliest}. A temporal split trains only on times before every "
        f"validation row: split at one time, or leave time_column out if the split is not "
        "meant to be temporal."
    )
    return [hard(order.column, "time_order", _round(order.share), 0, message)]


def _post_label_finding(column: str, declared: LeakageDeclarations) -> Finding:
    if column == declared.label:
        message = (
            f"The label {column!r} is among the training features: the model is given the "
            "answer. Drop it from the features."
        )
        return hard(column, "label_feature", "feature", "not a feature", message)
    message = (
        f"Column {column!r} becomes known only after the label and is among the training "
        "features: the model learns from what it is meant to predict. Drop it from the "
        "features, or from known_after_label if it is known when predicting."
    )
    return hard(column, "post_label_feature", "feature", "not a feature", message)


def _time_notes(train: pa.Table, valid: pa.Table, order: TimeOrder) -> list[str]:
    notes = []
    if order.train_latest is None:
        notes.append(f"Training has no {order.column} value: time order was not judged.")
    missing = valid.column(order.column).null_count
    if missing:
        notes.append(f"{missing:,} validation row(s) have no {order.column}; they were not judged.")
    return notes


def _undeclared_notes(train: pa.Table, valid: pa.Table, declared: LeakageDeclarations) -> list[str]:
    absent = [
        c
        for c in declared.known_after_label
        if c not in train.column_names and c not in valid.column_names
    ]
    if not absent:
        return []
    return [
        f"known_after_label names {', '.join(map(repr, absent))}, in neither table: "
        "check the spelling if the column should be there."
    ]


def _unchecked_notes(declared: LeakageDeclarations) -> list[str]:
    notes = []
    if not declared.keys:
        notes.append("No keys declared: overlap of keys was not checked.")
    if not declared.time_column:
        notes.append("No time_column declared: time order was not checked.")
    if not declared.known_after_label:
        notes.append(
            "No known_after_label declared: only the label was looked for among the features."
            if declared.label
            else "No known_after_label declared: the features were not checked."
        )
    return notes


def _round(value: float) -> float:
    return float(f"{value:.4g}")
