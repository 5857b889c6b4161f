"""Log rows held until they are written as one segment, then converted to Arrow
column by column with the types their layout gives them.

Appending is cheap (a few list appends per request, off the response path); each
column is converted once per segment by Arrow itself, the inputs as one struct
array typed by the signature. A value that does not convert (an integer past 64
bits, a list where a number belongs) costs only its own row: that row is set aside
with the reason, and the other rows are written."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from prodml.predictions.layout import (
    ARROW,
    SERVED,
    SHADOW_COLUMNS,
    SHADOW_KIND,
    SHADOWED,
    TIME,
    InputLayout,
)

TENSOR = pa.struct([pa.field("values", pa.list_(pa.float64()))])
Answer = tuple[int, Any, str | None]  # a shadow's version, output and error for one row


class LogRows:
    """Rows of one model bound for one segment: served rows when ``layout`` is
    given (their inputs stored as it says), the shadow's answers when it is None."""

    def __init__(self, model: str, layout: InputLayout | None) -> None:
        self.model = model
        self.layout = layout
        self.kind = "" if layout is not None else SHADOW_KIND
        self.row_ids: list[str] = []
        self.outputs: list[Any] = []
        # served rows: per request its values of SERVED[2:] and its row count; per row
        # its request id, inputs and (once known) the shadow's answer
        self.requests: list[Sequence[Any]] = []
        self.counts: list[int] = []
        self.request_ids: list[str] = []
        self.inputs: list[Any] = []
        self.answers: dict[int, Answer] = {}
        self.awaiting: dict[str, int] = {}  # served rows whose shadow answer may still come
        # shadow rows: per row the served row's time, the shadow version and its error
        self.times: list[float] = []
        self.versions: list[int] = []
        self.errors: list[str | None] = []

    def __len__(self) -> int:
        return len(self.row_ids)

    def add_requests(
        self,
        requests: Sequence[Sequence[Any]],
        counts: Sequence[int],
        row_ids: Sequence[str],
        request_ids: Sequence[str],
        outputs: Sequence[Any],
        rows: Sequence[Any],
    ) -> None:
        """Requests' rows: each request's values of the columns after ``request_id``
        in :data:`SERVED` (``ts`` onwards, as epoch seconds) and its count of rows, then
        per row its row id, request id, answer and inputs."""
        self.requests.extend(requests)
        self.counts.extend(counts)
        self.row_ids.extend(row_ids)
        self.request_ids.extend(request_ids)
        self.outputs.extend(outputs)
        self.inputs.extend(rows)

    def add_shadowed(
        self,
        row_ids: Sequence[str],
        times: Sequence[float],
        version: int,
        outputs: Sequence[Any],
        errors: Sequence[str | None],
    ) -> None:
        self.row_ids.extend(row_ids)
        self.times.extend(times)
        self.versions.extend([version] * len(row_ids))
        self.outputs.extend(outputs)
        self.errors.extend(errors)

    def await_shadow(self, row_ids: Sequence[str], start: int) -> None:
        """The rows from position ``start`` on, ``row_ids``, will have a shadow answer."""
        self.awaiting.update((row_id, start + i) for i, row_id in enumerate(row_ids))

    def fill(self, answers: LogRows) -> LogRows:
        """Write the shadow ``answers`` (rows of a shadow segment) into the served rows
        awaiting them; the answers for other rows are returned, for a shadow segment."""
        later = LogRows(answers.model, None)
        for index, row_id in enumerate(answers.row_ids):
            answer = (answers.versions[index], answers.outputs[index], answers.errors[index])
            position = self.awaiting.pop(row_id, None)
            if position is None:
                time = answers.times[index]
                later.add_shadowed([row_id], [time], answer[0], [answer[1]], [answer[2]])
            else:
                self.answers[position] = answer
        return later

    def extend(self, other: LogRows) -> None:
        start = len(self)
        self.awaiting.update((row_id, start + p) for row_id, p in other.awaiting.items())
        self.answers.update((start + p, answer) for p, answer in other.answers.items())
        for mine, theirs in zip(self._lists(), other._lists(), strict=True):
            mine.extend(theirs)

    def _lists(self) -> list[list[Any]]:
        return [
            self.row_ids,
            self.outputs,
            self.requests,
            self.counts,
            self.request_ids,
            self.inputs,
            self.times,
            self.versions,
            self.errors,
        ]

    def table(self) -> tuple[pa.Table, dict[int, str]]:
        """The rows as a table, less those a value of which did not convert (given by
        position with the reason)."""
        bad: dict[int, str] = {}
        if self.layout is None:
            values: list[list[Any]] = [
                self.row_ids,
                self.times,
                [self.model] * len(self),
                self.versions,
                self.errors,
            ]
            names = [name for name, _ in SHADOWED] + ["shadow_output"]
            arrays = [_array(v, t, n, bad) for (n, t), v in zip(SHADOWED, values, strict=True)]
            arrays.append(typed(self.outputs))
        else:
            per_row = self._per_row()
            per_request = [[r[i] for r in per_row] for i in range(len(SERVED) - 2)]
            values = [self.row_ids, self.request_ids, *per_request]
            arrays = [_array(v, t, n, bad) for (n, t), v in zip(SERVED, values, strict=True)]
            arrays += [typed(self.outputs), *self._shadow(bad), self._inputs(bad)]
            names = [name for name, _ in SERVED] + ["output"]
            names += [name for name, _ in SHADOW_COLUMNS]
            names.append("inputs_json" if self.layout.kind == "json" else "inputs")
        table = pa.table(arrays, names=names)
        if bad:
            keep = [index not in bad for index in range(len(self))]
            table = table.filter(pa.array(keep, pa.bool_()))
        return table, bad

    def _per_row(self) -> list[Sequence[Any]]:
        """Each row's request values (a request of many rows gives them to each)."""
        if len(self.requests) == len(self):
            return self.requests
        return [
            r for r, count in zip(self.requests, self.counts, strict=True) for _ in range(count)
        ]

    def _shadow(self, bad: dict[int, str]) -> list[pa.Array]:
        versions: list[Any] = [None] * len(self)
        outputs: list[Any] = [None] * len(self)
        errors: list[Any] = [None] * len(self)
        for position, (version, output, error) in self.answers.items():
            versions[position], outputs[position], errors[position] = version, output, error
        return [
            _array(versions, pa.int64(), "shadow_version", bad),
            typed(outputs),
            _array(errors, pa.string(), "shadow_error", bad),
        ]

    def _inputs(self, bad: dict[int, str]) -> pa.Array:
        layout = self.layout
        assert layout is not None
        if layout.kind == "json":
            return pa.array([as_json(row) for row in self.inputs], pa.string())
        if layout.kind == "tensor":
            rows = [{"values": row} for row in self.inputs]
            return _struct(rows, TENSOR, [("values", TENSOR[0].type)], bad)
        fields = [(name, ARROW[storage]) for name, storage in layout.fields]
        kind = pa.struct([pa.field(name, arrow) for name, arrow in fields])
        return _struct(_prepared(self.inputs, layout, bad), kind, fields, bad)

    def raw(self, index: int) -> dict[str, Any]:
        """Row ``index`` as given, for the quarantine."""
        found: dict[str, Any] = {"row_id": self.row_ids[index]}
        if self.layout is None:
            found.update(ts=self.times[index], model=self.model)
            found.update(shadow_version=self.versions[index], shadow_error=self.errors[index])
            found["shadow_output"] = self.outputs[index]
            return found
        found["request_id"] = self.request_ids[index]
        request = self._per_row()[index]
        found.update((name, value) for (name, _), value in zip(SERVED[2:], request, strict=True))
        found["output"] = self.outputs[index]
        found["inputs"] = self.inputs[index]
        return found


def _prepared(rows: list[Any], layout: InputLayout, bad: dict[int, str]) -> list[Any]:
    """Rows made ready for their struct where a value's own kind differs from its
    storage: times given as numbers become text, values stored as JSON become text,
    whole floats in integer fields become integers (Arrow would cut 2.5 to 2 without
    a word, so other floats there are refused)."""
    special = [(n, s) for n, s in layout.fields if s in ("time", "json", "integer")]
    if not special:
        return rows
    checks = [(n, s) for n, s in special if s != "integer" or _has_float(rows, n)]
    if not checks:
        return rows
    prepared = []
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            row = dict(row)
            for name, storage in checks:
                row[name] = _stored(row.get(name), storage, f"inputs.{name}", index, bad)
        prepared.append(row)
    return prepared


def _has_float(rows: list[Any], name: str) -> bool:
    return any(type(row.get(name)) is float for row in rows if isinstance(row, dict))


def _stored(value: Any, storage: str, name: str, index: int, bad: dict[int, str]) -> Any:
    if value is None:
        return None
    if storage == "time":
        return value if isinstance(value, str) else str(value)
    if storage == "json":
        return as_json(value)
    if type(value) is float:
        if value.is_integer():
            return int(value)
        bad.setdefault(index, f"{name}: {value!r} is not a whole number")
        return None
    return value


def _struct(
    rows: list[Any], kind: pa.DataType, fields: list[tuple[str, pa.DataType]], bad: dict[int, str]
) -> pa.Array:
    """Rows as a struct array; a row that does not convert is left null and noted in
    ``bad`` with the first field at fault."""
    return _converted(rows, kind, bad, lambda row, problem: _fault(row, fields, problem))


def _converted(
    values: list[Any],
    kind: pa.DataType,
    bad: dict[int, str],
    fault: Callable[[Any, Exception], str],
) -> pa.Array:
    """``values`` as one array of ``kind``; when that fails, each value alone, so a
    value that does not convert is left null and its row noted in ``bad``."""
    try:
        return pa.array(values, type=kind)
    except Exception:  # a value any client sent may be the one at fault
        kept: list[Any] = []
        for index, value in enumerate(values):
            try:
                pa.array([value], type=kind)
                kept.append(value)
            except Exception as problem:
                bad.setdefault(index, fault(value, problem))
                kept.append(None)
        return pa.array(kept, type=kind)


def _fault(row: Any, fields: list[tuple[str, pa.DataType]], problem: Exception) -> str:
    if isinstance(row, dict):
        for name, arrow in fields:
            try:
                pa.array([row.get(name)], type=arrow)
            except Exception as at_fault:
                return f"inputs.{name}: {type(at_fault).__name__}: {at_fault}"
    return f"inputs: {type(problem).__name__}: {problem}"


def _array(values: list[Any], kind: pa.DataType, name: str, bad: dict[int, str]) -> pa.Array:
    """``values`` as an Arrow array of ``kind``; a value that does not convert is
    left null and its row noted in ``bad``."""
    if kind == TIME and all(type(v) is float for v in values):  # epoch seconds
        micros = np.round(np.asarray(values, dtype=np.float64) * 1e6).astype(np.int64)
        return pa.array(micros, type=TIME)
    return _converted(
        values, kind, bad, lambda _, problem: f"{name}: {type(problem).__name__}: {problem}"
    )


def typed(values: list[Any]) -> pa.Array:
    """Answers as numbers when every one is a number, else as text (JSON for lists
    and objects), so that no answer can make the column fail."""
    try:
        return pa.array(values, pa.float64())  # numbers (and None): the usual case
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
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
