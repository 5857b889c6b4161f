"""Prediction-log rows in the shape the gateway's recorder writes them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodml.predictions.layout import SERVED, InputLayout, input_layout
from prodml.predictions.rows import LogRows
from prodml.predictions.segments import table_of, write_segment

SIGNATURE = {
    "kind": "columns",
    "columns": [{"name": "a", "type": "double"}, {"name": "b", "type": "double"}],
}
COLUMNS = input_layout("m-v1", SIGNATURE)


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
    return Path(write_segment(folder, model, table_of(rows, ("output", "shadow_output"))))


def buffered(rows: list[dict[str, Any]], layout: InputLayout = COLUMNS) -> LogRows:
    """``rows`` (as :func:`log_row` makes them) as the recorder hands them to the writer."""
    built = LogRows(rows[0]["model"], layout)
    for row in rows:
        built.add_requests(
            [[row["ts"].timestamp(), *(row[name] for name, _ in SERVED[3:])]],
            [1],
            [row.get("row_id") or uuid.uuid4().hex],
            [row["request_id"]],
            [row["output"]],
            [row["inputs"]],
        )
    return built
