"""Each run's config (flattened to dotted keys), params and tags as searchable rows
of ``run_values``: the value's text, its first characters (indexable on every
database however long the value is) and its number when it is one."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from prodml.domain.run import flatten_config
from prodml.names import storable_text
from prodml.stores import driver, schema

MAX_VALUE_KEY = 255  # the width of run_values.key; longer config keys are not searchable
INSERT_VALUE = (
    "INSERT INTO run_values (run_id, kind, key, value, head, num) VALUES (?, ?, ?, ?, ?, ?)"
)


def number_of(value: object) -> float | None:
    """The number a stored value stands for (``6``, ``"0.1"``), or None (text, bools, NaN)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip() and len(value) < 64:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _text_of(value: object) -> str:
    """Config values as searched: text as is, anything else as its JSON (true, [1, 2])."""
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def value_row(run_id: str, kind: str, key: str, value: object) -> tuple[Any, ...] | None:
    """A ``run_values`` row, or None for a key or value no database would store."""
    text = _text_of(value)
    if len(key) > MAX_VALUE_KEY or not storable_text(key) or not storable_text(text):
        return None
    return (run_id, kind, key, text, text[: schema.VALUE_HEAD], number_of(value))


def config_rows(run_id: str, config: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    rows = (value_row(run_id, "config", k, v) for k, v in flatten_config(dict(config)).items())
    return [row for row in rows if row is not None]


def index_params(connection: sa.Connection, params: Iterable[tuple[str, str, str]]) -> None:
    """Keep newly stored params searchable (called in the params' insert)."""
    rows = (value_row(run_id, "param", key, value) for run_id, key, value in params)
    driver.execute_many(connection, INSERT_VALUE, [row for row in rows if row is not None])
