"""Log rows held as one list per column until they are written as a segment.

Rows are appended column by column as requests are recorded, and each column is
converted to Arrow once, with the type its layout gives it. A value that does not
convert (an integer past 64 bits, a list where a number belongs) costs only its own
row: that row is set aside with the reason, and the other rows are written."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

import orjson
import pyarrow as pa

from prodml.predictions.layout import (
    ARROW,
    SERVED,
    SHADOW_COLUMNS,
    SHADOW_KIND,
    SHADOWED,
    InputLayout,
    Storage,
)

TENSOR = pa.list_(pa.float64())


class LogRows:
    """Rows of one model bound for one segment: served rows when ``layout`` is
    given (their inputs stored as it says), the shadow's answers when it is None."""

    def __init__(self, model: str, layout: InputLayout | None) -> None:
        self.model = model
        self.layout = layout
        self.kind = "" if layout is not None else SHADOW_KIND
        self.fixed = SERVED if layout is not None else SHADOWED
        self.columns: list[list[Any]] = [[] for _ in self.fixed]
        self.outputs: list[Any] = []
        self.shadow: list[list[Any]] = [[] for _ in SHADOW_COLUMNS] if layout is not None else []
        self.awaiting: dict[str, int] = {}  # served rows whose shadow answer may still come
        width = len(layout.fields) if layout is not None and layout.kind == "columns" else 1
        self.inputs: list[list[Any]] = [[] for _ in range(width)]

    def __len__(self) -> int:
        return len(self.outputs)

    def add_served(
        self,
        request: Sequence[Any],
        row_ids: Sequence[str],
        request_ids: Sequence[str],
        outputs: Sequence[Any],
        rows: Sequence[Any],
    ) -> None:
        """One request's rows; ``request`` holds its values of the columns after
        ``request_id`` in :data:`SERVED` (``ts`` onwards), the same for every row."""
        count = len(rows)
        self.columns[0].extend(row_ids)
        self.columns[1].extend(request_ids)
        for column, value in zip(self.columns[2:], request, strict=True):
            column.extend(repeat(value, count))
        self.outputs.extend(outputs)
        for column in self.shadow:
            column.extend(repeat(None, count))
        assert self.layout is not None
        if self.layout.kind == "columns":
            for inputs, name in zip(self.inputs, self.layout.names, strict=True):
                inputs.extend(_field(row, name) for row in rows)
        else:
            self.inputs[0].extend(rows)

    def await_shadow(self, row_ids: Sequence[str]) -> None:
        """The last ``len(row_ids)`` rows added will have a shadow answer."""
        start = len(self) - len(row_ids)
        self.awaiting.update((row_id, start + i) for i, row_id in enumerate(row_ids))

    def fill(self, answers: LogRows) -> LogRows:
        """Write the shadow ``answers`` (rows of a shadow segment) into the served rows
        awaiting them; the answers for other rows are returned, for a shadow segment."""
        later = LogRows(answers.model, None)
        row_ids, times, _, versions, errors = answers.columns
        for index, row_id in enumerate(row_ids):
            output = answers.outputs[index]
            position = self.awaiting.pop(row_id, None)
            if position is None:
                later.add_shadowed(
                    [row_id], [times[index]], versions[index], [output], [errors[index]]
                )
                continue
            for column, value in zip(
                self.shadow, (versions[index], output, errors[index]), strict=True
            ):
                column[position] = value
        return later

    def add_shadowed(
        self,
        row_ids: Sequence[str],
        times: Sequence[datetime],
        version: int,
        outputs: Sequence[Any],
        errors: Sequence[str | None],
    ) -> None:
        count = len(row_ids)
        self.columns[0].extend(row_ids)
        self.columns[1].extend(times)
        self.columns[2].extend(repeat(self.model, count))
        self.columns[3].extend(repeat(version, count))
        self.columns[4].extend(errors)
        self.outputs.extend(outputs)

    def extend(self, other: LogRows) -> None:
        start = len(self)
        self.awaiting.update((row_id, start + p) for row_id, p in other.awaiting.items())
        for mine, theirs in zip(self.columns, other.columns, strict=True):
            mine.extend(theirs)
        self.outputs.extend(other.outputs)
        for mine, theirs in zip(self.shadow, other.shadow, strict=True):
            mine.extend(theirs)
        for mine, theirs in zip(self.inputs, other.inputs, strict=True):
            mine.extend(theirs)

    def table(self) -> tuple[pa.Table, dict[int, str]]:
        """The rows as a table, less those a value of which did not convert (given by
        position with the reason)."""
        bad: dict[int, str] = {}
        names = [name for name, _ in self.fixed]
        arrays = [
            _array(values, kind, name, bad)
            for (name, kind), values in zip(self.fixed, self.columns, strict=True)
        ]
        if self.layout is None:
            names.append("shadow_output")
            arrays.append(typed(self.outputs))
        else:
            versions, outputs, errors = self.shadow
            names += ["output", *(name for name, _ in SHADOW_COLUMNS)]
            arrays += [
                typed(self.outputs),
                _array(versions, pa.int64(), "shadow_version", bad),
                typed(outputs),
                _array(errors, pa.string(), "shadow_error", bad),
            ]
            name, array = self._inputs(bad)
            names.append(name)
            arrays.append(array)
        table = pa.table(arrays, names=names)
        if bad:
            keep = [index not in bad for index in range(len(self))]
            table = table.filter(pa.array(keep, pa.bool_()))
        return table, bad

    def _inputs(self, bad: dict[int, str]) -> tuple[str, pa.Array]:
        layout = self.layout
        assert layout is not None
        if layout.kind == "json":
            return "inputs_json", pa.array([as_json(row) for row in self.inputs[0]], pa.string())
        if layout.kind == "tensor":
            values = _array(self.inputs[0], TENSOR, "inputs.values", bad)
            return "inputs", pa.StructArray.from_arrays([values], names=["values"])
        children = []
        for (name, storage), values in zip(layout.fields, self.inputs, strict=True):
            where = f"inputs.{name}"
            children.append(
                _array(_stored(values, storage, where, bad), ARROW[storage], where, bad)
            )
        fields = [pa.field(name, ARROW[storage]) for name, storage in layout.fields]
        return "inputs", pa.StructArray.from_arrays(children, fields=fields)

    def raw(self, index: int) -> dict[str, Any]:
        """Row ``index`` as given, for the quarantine."""
        found = {
            name: column[index] for (name, _), column in zip(self.fixed, self.columns, strict=True)
        }
        found["output" if self.layout is not None else "shadow_output"] = self.outputs[index]
        for (name, _), column in zip(SHADOW_COLUMNS, self.shadow, strict=False):
            found[name] = column[index]
        if self.layout is not None and self.layout.kind == "columns":
            found["inputs"] = {
                n: v[index] for n, v in zip(self.layout.names, self.inputs, strict=True)
            }
        elif self.layout is not None:
            found["inputs"] = self.inputs[0][index]
        return found


def _field(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else None


def _stored(values: list[Any], storage: Storage, name: str, bad: dict[int, str]) -> list[Any]:
    """Values made ready for their Arrow type where the request's own kind differs."""
    if storage == "time":
        return [v if v is None or isinstance(v, str) else str(v) for v in values]
    if storage == "json":
        return [None if v is None else as_json(v) for v in values]
    if storage == "integer" and any(type(v) is float for v in values):
        return [_whole(v, index, name, bad) for index, v in enumerate(values)]
    return values


def _whole(value: Any, index: int, name: str, bad: dict[int, str]) -> Any:
    """A float as the integer it equals; Arrow would cut 2.5 to 2 without a word."""
    if type(value) is not float:
        return value
    if value.is_integer():
        return int(value)
    bad.setdefault(index, f"{name}: {value!r} is not a whole number")
    return None


def _array(values: list[Any], kind: pa.DataType, name: str, bad: dict[int, str]) -> pa.Array:
    """``values`` as an Arrow array of ``kind``; a value that does not convert is
    left null and its row noted in ``bad``."""
    try:
        return pa.array(values, type=kind)
    except Exception:  # any value a client sent may be the one at fault
        kept: list[Any] = []
        for index, value in enumerate(values):
            try:
                pa.array([value], type=kind)
                kept.append(value)
            except Exception as problem:
                bad.setdefault(index, f"{name}: {type(problem).__name__}: {problem}")
                kept.append(None)
        return pa.array(kept, type=kind)


def typed(values: list[Any]) -> pa.Array:
    """Answers as numbers when every one is a number, else as text (JSON for lists
    and objects), so that no answer can make the column fail."""
    if all(v is None or isinstance(v, int | float) for v in values):
        try:
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        except OverflowError:  # an integer past the range of a float: kept as text
            pass
    return pa.array(
        [None if v is None else (v if isinstance(v, str) else as_json(v)) for v in values],
        pa.string(),
    )


def as_json(value: Any) -> str:
    """JSON text of anything (integers past 64 bits included)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError:
        return json.dumps(value, default=str)
