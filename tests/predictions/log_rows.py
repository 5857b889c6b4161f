"""Prediction-log rows in the shape the gateway's recorder writes them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodml.predictions.segments import table_of, write_segment


def log_row(request_id: str, **changes: Any) -> dict[str, Any]:
    """One answered request of model ``m``'s champion v1, changed by ``changes``."""
    return {
        "request_id": request_id,
        "ts": datetime.fromtimestamp(time.time(), UTC),
        "model": "m",
        "version": 1,
        "assigned": 1,
        "variant": "champion",
        "rollout_id": None,
        "step": None,
        "routing_key": None,
        "status": "ok",
        "error": None,
        "fallback": None,
        "latency_ms": 1.5,
        "output": 1,
        "shadow_version": None,
        "shadow_output": None,
        "shadow_error": None,
        "inputs": {"a": 0.5, "b": -0.5},
        **changes,
    }


def write(folder: Path, rows: list[dict[str, Any]], model: str = "m") -> Path:
    return write_segment(folder, model, table_of(rows, ("output", "shadow_output")))
