"""The columns a leakage check reads, checked before any row is: every declared column
present, key columns of one type in both tables, the time column a time."""

from __future__ import annotations

import math
from collections.abc import Callable

import pyarrow as pa

from prodml.domain.leakage import LeakageDeclarations
from prodml.errors import InvalidInputError

# Types that compare with each other once cast to the wider one.
FAMILIES: tuple[tuple[str, Callable[[pa.DataType], bool]], ...] = (
    ("whole numbers", pa.types.is_integer),
    ("numbers", pa.types.is_floating),
    ("decimals", pa.types.is_decimal),
    ("text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    ("bytes", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)),
    ("true/false", pa.types.is_boolean),
    ("timestamps", pa.types.is_timestamp),
    ("dates", pa.types.is_date),
)
TIMES = ("timestamps", "dates")


def check_declared(
    train: pa.Table,
    valid: pa.Table,
    declared: LeakageDeclarations,
    train_label: str,
    valid_label: str,
) -> None:
    """Refuse declarations no check can run on, naming the field and the next step."""
    if not declared.declared:
        raise InvalidInputError(
            "Nothing to check for leakage: declare keys, time_column or known_after_label "
            "(or give a suite with a leakage section)."
        )
    if not (0 <= declared.max_overlap <= 1) or math.isnan(declared.max_overlap):
        raise InvalidInputError(
            f"max_overlap is {declared.max_overlap!r}; give a share of validation rows "
            "between 0 and 1."
        )
    tables = ((train, train_label), (valid, valid_label))
    for key in declared.keys:
        for table, label in tables:
            _present(table, key, "keys", label)
        common_type(_type(train, key), _type(valid, key), f"keys: {key!r}")
    if declared.time_column:
        column = declared.time_column
        for table, label in tables:
            _present(table, column, "time_column", label)
            if family(_type(table, column)) not in TIMES:
                raise InvalidInputError(
                    f"time_column {column!r} is {describe(_type(table, column))} in {label}, "
                    "not a time. Give a column of dates or timestamps, or parse it first "
                    "(pandas.to_datetime, pyarrow.compute.strptime)."
                )
        common_type(_type(train, column), _type(valid, column), f"time_column {column!r}")
    for feature in declared.features or ():
        _present(train, feature, "features", train_label)


def key_columns(valid: pa.Table, train: pa.Table, keys: tuple[str, ...]) -> tuple[pa.Table, ...]:
    """The key columns of each table, renamed k0, k1... and cast to one type per key
    (text read from dictionaries), ready to join."""
    names = [f"k{index}" for index in range(len(keys))]
    kinds = [common_type(_type(train, key), _type(valid, key), key) for key in keys]
    return tuple(
        pa.table(
            [_plain(table.column(key)).cast(kind) for key, kind in zip(keys, kinds, strict=True)],
            names=names,
        )
        for table in (valid, train)
    )


def common_type(first: pa.DataType, second: pa.DataType, field: str) -> pa.DataType:
    """The type both columns are compared in: the wider of the two, when both are of
    one family (whole numbers, text, timestamps of one time zone...)."""
    first, second = _value_type(first), _value_type(second)
    if first == second and family(first) is not None:
        return first
    if family(first) is not None and family(first) == family(second):
        try:
            return (
                pa.unify_schemas(
                    [pa.schema([("c", first)]), pa.schema([("c", second)])],
                    promote_options="permissive",
                )
                .field("c")
                .type
            )
        except (pa.ArrowException, TypeError):
            pass
    raise InvalidInputError(
        f"{field} is {describe(first)} in training and {describe(second)} in validation; "
        "they cannot be compared. Cast both to one type (numbers, text, dates or timestamps "
        "of one time zone) before checking."
    )


def describe(kind: pa.DataType) -> str:
    """A type as people say it, with Arrow's name: "text (large_string)"."""
    named = family(kind)
    return f"{named} ({kind})" if named else str(kind)


def family(kind: pa.DataType) -> str | None:
    kind = _value_type(kind)
    return next((name for name, test in FAMILIES if test(kind)), None)


def _value_type(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _type(table: pa.Table, column: str) -> pa.DataType:
    return table.schema.field(column).type


def _present(table: pa.Table, column: str, field: str, label: str) -> None:
    if column in table.column_names:
        return
    shown = ", ".join(table.column_names[:12])
    more = f" and {len(table.column_names) - 12} more" if len(table.column_names) > 12 else ""
    raise InvalidInputError(
        f"{field}: {column!r} is not a column of {label} (its columns: {shown}{more}). "
        f"Fix the name in {field}, or add the column to the table."
    )
