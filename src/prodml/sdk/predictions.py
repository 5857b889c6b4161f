"""The prediction log: query it with SQL, join labels to it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from prodml.client import Client, default_client
from prodml.predictions.labels import LabelReport


def query_predictions(
    sql: str,
    client: Client | None = None,
    *,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """SQL over the prediction log: tables ``predictions``, ``labels``, ``labelled``.
    ``model``, ``since`` and ``until`` narrow ``predictions`` to that model's segments
    of those days (an alert's sample query reads its window's day, not the month)."""
    from prodml.predictions import query

    client = client or default_client()
    return query.query(Path(client.settings.log_url), sql, model, since, until)


def ingest_labels(
    source: str | Path | Any, key: str = "request_id", label: str = "label",
    at: str | None = None, client: Client | None = None,
) -> LabelReport:  # fmt: skip
    """Join ground truth (a CSV/Parquet file or a table) to logged requests by ``key``."""
    from prodml.data.tables import read_table, to_arrow
    from prodml.predictions import labels

    client = client or default_client()
    is_path = isinstance(source, str | Path)
    table = read_table(Path(source)) if is_path else to_arrow(source, "labels")
    name = Path(source).name if is_path else "table"
    report = labels.ingest(Path(client.settings.log_url), table, key, label, at, name)
    client.metadata.record_event(
        "labels.ingested", ("labels", name), None,
        {"rows": report.rows, "matched": report.matched, "unknown": report.unknown,
         "lag_median_s": report.lag_median_s},
    )  # fmt: skip
    return report
