"""Checking metric values at the edge: numbers only, NaN and infinities allowed."""

from __future__ import annotations

from typing import Any

from prodml.errors import ECHOED, InvalidInputError, MetricValueError, echoed
from prodml.names import storable_text

MAX_KEY = 255  # the width of metric and param names in the store


def check_key(key: Any, what: str, run_id: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or not storable_text(key):
        shown = echoed(key) if isinstance(key, str) else repr(key)[:ECHOED]
        raise InvalidInputError(
            f"{what.capitalize()} name {shown} of run {run_id[:12]} must be text of 1 to "
            f"{MAX_KEY} characters, valid UTF-8 without NUL."
        )
    return key


def as_metric(key: Any, value: Any, run_id: str) -> float:
    check_key(key, "metric", run_id)
    if isinstance(value, bool | str | bytes) or value is None:
        raise MetricValueError(_message(key, value, run_id))
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise MetricValueError(_message(key, value, run_id)) from None


def _message(key: str, value: Any, run_id: str) -> str:
    return (
        f"Metric {key!r} of run {run_id[:12]} got {value!r} ({type(value).__name__}), "
        "not a number. Log numbers only; put text in a param or an artifact."
    )
