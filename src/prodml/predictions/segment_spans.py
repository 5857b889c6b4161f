"""The time a prediction-log file covers, read from its footer's statistics, so that a
query or a monitor window opens only the files that can hold rows of its span."""

from __future__ import annotations

import pyarrow as pa

from prodml.errors import ProdmlError
from prodml.stores.log_files import LogFiles


def time_span(files: LogFiles, path: str) -> tuple[float, float] | None:
    """The earliest and latest ``ts`` in a segment, from its footer (None: unknown)."""
    try:
        metadata = files.footer(files.key_of(path))
        column = metadata.schema.names.index("ts")
        lows, highs = [], []
        for group in range(metadata.num_row_groups):
            statistics = metadata.row_group(group).column(column).statistics
            if statistics is None or not statistics.has_min_max:
                return None
            lows.append(statistics.min.timestamp())
            highs.append(statistics.max.timestamp())
    except (OSError, ValueError, AttributeError, pa.ArrowException, ProdmlError):
        return None
    return (min(lows), max(highs)) if lows else None
