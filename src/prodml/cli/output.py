"""Shared output for the CLI: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import sys
from datetime import datetime
from typing import Any

from rich.console import Console

# No markup or emoji codes: names, hypotheses, errors and ids in brackets print as typed.
console = Console(highlight=False, markup=False, emoji=False)
errors = Console(stderr=True, highlight=False, markup=False, emoji=False)


def plain(value: Any) -> Any:
    """Dataclasses, enums, times and NaN as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(plain(value), indent=2, default=str) + "\n")


def when(value: datetime | None) -> str:
    """Local time with its UTC offset, so it can be pasted back into --as-of or --since."""
    return value.astimezone().isoformat(sep=" ", timespec="seconds") if value else "-"


def number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "-"
    return str(value)
