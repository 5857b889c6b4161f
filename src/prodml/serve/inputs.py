"""Request bodies read against a model version's signature, fast enough for the
request path: one record or many, as records or columns, each field checked by
name and kind (``values.py``) before the model sees it. A model without a
signature is served only when that was chosen (``prodml serve --allow-unsigned``);
its records then need plain field names and scalar values of one type per field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from prodml.domain.artifact import ModelVersion
from prodml.serve import values
from prodml.serve.values import Rejected

MAX_ROWS = 10_000
MAX_FIELDS = 1_000  # fields of one record for a model without a signature

__all__ = ["MAX_ROWS", "InputSpec", "Rejected", "family", "rows_of"]


def family(kind: str) -> str:
    """The coarse kind of a signature type: number, text, time or any."""
    if kind.startswith(("int", "uint", "float", "double", "halffloat", "bool", "decimal")):
        return "number"
    if kind.startswith(("string", "large_string", "dictionary<values=string")):
        return "text"
    if kind.startswith(("timestamp", "date")):
        return "time"
    return "any"


class InputSpec:
    """What one model version accepts, compiled once when the version is loaded."""

    def __init__(self, version: ModelVersion, model: Any) -> None:
        signature = version.signature or {}
        self.ref = version.ref
        self.signed = signature.get("kind") in ("tensor", "columns")
        self.tensor = signature.get("kind") == "tensor"
        self.width = (signature.get("shape") or [-1, 0])[-1] if self.tensor else 0
        columns = signature.get("columns") if signature.get("kind") == "columns" else None
        self.columns: list[tuple[str, str]] = [
            (c["name"], family(c["type"])) for c in columns or []
        ]
        self.types = {c["name"]: c["type"] for c in columns or []}
        self.kinds = {c["name"]: values.kind_of(c["type"]) for c in columns or []}
        self.required = {c["name"] for c in columns or [] if c.get("nullable") is False}
        self.names = [name for name, _ in self.columns]
        numeric = bool(self.columns) and all(kind == "number" for _, kind in self.columns)
        plain_sklearn = version.flavor == "sklearn" and not hasattr(model, "feature_names_in_")
        # ONNX models and boosters loaded in their own format take a numpy batch directly
        native = bool(getattr(model, "takes_array", False))
        self.as_array = self.tensor or (numeric and (plain_sklearn or native))

    def records(self, body: Any) -> list[Any]:
        """The rows of a parsed JSON body, each checked against the signature."""
        rows = rows_of(body)
        self.check(rows)
        return rows

    def check(self, rows: list[Any]) -> None:
        if not self.signed:
            types: dict[str, str] = {}
            for index, row in enumerate(rows):
                if isinstance(row, Mapping) and len(row) > MAX_FIELDS:
                    raise Rejected(
                        f"Row {index} has {len(row):,} fields; the limit is {MAX_FIELDS:,}.",
                        f"records[{index}]",
                        413,
                    )
                values.unsigned_row(row, index, types)
            return
        for index, row in enumerate(rows):
            self.check_row(row, index)

    def check_row(self, row: Any, index: int) -> None:
        if self.tensor:
            self._check_tensor(row, index)
            return
        if not self.signed:
            values.unsigned_row(row, index, {})
            return
        if not isinstance(row, Mapping):
            raise Rejected(
                f"Row {index} must be an object of field: value for {self.ref}.",
                f"records[{index}]",
            )
        for name, _ in self.columns:
            if name not in row:
                raise Rejected(
                    f"Row {index} lacks field {name!r}; model {self.ref} expects: "
                    f"{', '.join(self.names)}.",
                    name,
                )
            value = row[name]
            if value is None:
                if name in self.required:
                    raise Rejected(
                        f"Field {name!r} of row {index} is null; model {self.ref} needs a "
                        f"{self.kinds[name]} there (it was fitted without missing values in it).",
                        name,
                    )
                continue
            values.check(value, self.kinds[name], self.types[name], name)

    def _check_tensor(self, row: Any, index: int) -> None:
        field = f"records[{index}]"
        if not isinstance(row, list) or (self.width > 0 and len(row) != self.width):
            raise Rejected(
                f"Row {index} must be a list of {self.width} numbers for {self.ref}.", field
            )
        for position, value in enumerate(row):
            kind = type(value)
            if kind is float or kind is int:
                if kind is float or abs(value) > values.EXACT:
                    values.number(value, f"{field}[{position}]")
                continue
            values.number(value, f"{field}[{position}]")

    def model_input(self, rows: list[Any]) -> Any:
        """Rows as the model was fitted on them: a 2-D array or a DataFrame."""
        if self.tensor:
            return np.asarray(rows, dtype=np.float64)
        if self.as_array:
            return np.array([[row[name] for name in self.names] for row in rows], dtype=float)
        import pandas as pd

        if not self.columns:
            return pd.DataFrame.from_records(rows)
        frame = pd.DataFrame({name: [row[name] for row in rows] for name in self.names})
        for name, kind in self.columns:
            if kind == "time":
                frame[name] = pd.to_datetime(frame[name], errors="coerce", utc=True)
        return frame

    def logged(self, row: Any) -> dict[str, Any]:
        """The part of a row written to the prediction log: the signature's fields."""
        if self.tensor:
            return {"values": row}
        if not self.columns:
            return dict(row)
        return {name: row[name] for name in self.names}


def rows_of(body: Any) -> list[Any]:
    """The rows of a parsed JSON body: ``{"records": [...]}``, ``{"columns": {...}}``,
    ``{"instances": [...]}``, a list of records or one record."""
    rows = _rows(body)
    if not rows:
        raise Rejected("The request holds no rows; send at least one record.", "records")
    _bounded(len(rows), "records")
    return rows


def _bounded(count: int, field: str) -> None:
    if count > MAX_ROWS:
        raise Rejected(
            f"The request holds {count:,} rows; send at most {MAX_ROWS:,} per request.",
            field,
            413,
        )


def _rows(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    if not isinstance(body, Mapping):
        raise Rejected("The body must be a JSON object or a list of records.", "body")
    for key in ("records", "instances", "inputs"):
        if key in body:
            value = body[key]
            if not isinstance(value, list):
                raise Rejected(f"Field {key!r} must be a list of records.", key)
            return value
    if "columns" in body and isinstance(body["columns"], Mapping):
        return _from_columns(body["columns"])
    return [body]


def _from_columns(columns: Mapping[str, Any]) -> list[Any]:
    lengths = {len(v) if isinstance(v, list) else -1 for v in columns.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise Rejected(
            "Field 'columns' must map each name to a list, all of one length.", "columns"
        )
    _bounded(lengths.pop(), "columns")  # before the rows are built, not after
    names = list(columns)
    return [dict(zip(names, cells, strict=True)) for cells in zip(*columns.values(), strict=True)]
