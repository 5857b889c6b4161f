"""The prediction log: query it with SQL, join labels to it, compact it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from prodml.client import Client, default_client
from prodml.errors import InvalidInputError, NotFoundError
from prodml.names import check_name
from prodml.predictions.labels import LabelReport
from prodml.predictions.layout import folder_of

if TYPE_CHECKING:
    from prodml.predictions.compaction import CompactionReport as CompactionReport
    from prodml.predictions.retention import PruneReport as PruneReport

COMPACT_AFTER = 600.0  # seconds: the age of a segment to merge, and of a merged file before
# the files it replaces are deleted


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
    return query.query(client.log_files, sql, model, since, until)


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
    report = labels.ingest(client.log_files, table, key, label, at, name)
    client.metadata.record_event(
        "labels.ingested", ("labels", name), None,
        {"rows": report.rows, "matched": report.matched, "unknown": report.unknown,
         "lag_median_s": report.lag_median_s},
    )  # fmt: skip
    return report


def compact_predictions(
    model: str | None = None,
    older_than: float = COMPACT_AFTER,
    client: Client | None = None,
    *,
    grace: float = COMPACT_AFTER,
) -> CompactionReport:
    """Merge the log's small segments written more than ``older_than`` seconds ago (of
    ``model``, or of every model and the labels) into a few big files, which every
    query reads instead; the files they replace are deleted by a run once their
    compacted file is ``grace`` seconds old (a query may still be reading them). Safe
    beside running gateways, readers and another compaction."""
    from prodml.predictions import compaction

    if model is not None and ".." in Path(check_name(model, "model")).parts:
        raise InvalidInputError(f"Model name {model!r} is not valid: it climbs out of the log.")
    for option, seconds in (("older_than", older_than), ("grace", grace)):
        if not seconds >= 0:
            raise InvalidInputError(f"{option} is {seconds!r} seconds; give 0 or more.")
    client = client or default_client()
    report = compaction.compact(client.log_files, model, older_than, grace)
    if not (report.merged or report.deleted or report.busy):
        _check_known(client, model)
    if report.merged or report.deleted:
        counts = ("merged", "written", "rows", "bytes_before", "bytes_after", "deleted")
        details: dict[str, object] = {name: getattr(report, name) for name in counts}
        details["busy"] = len(report.busy)
        subject = ("predictions", model or "*")  # "*": every model and the labels
        client.metadata.record_event("predictions.compacted", subject, None, details)
    return report


def prune_predictions(
    older_than: float,
    model: str | None = None,
    client: Client | None = None,
    now: float | None = None,
) -> PruneReport:
    """Delete the log's days (segments, labels and quarantined rows; of ``model``, or of
    every model) that ended more than ``older_than`` seconds before ``now`` (epoch
    seconds; default: now). A day is deleted whole, and only once all of it is past the
    cutoff."""
    from prodml.predictions import retention

    if model is not None and ".." in Path(check_name(model, "model")).parts:
        raise InvalidInputError(f"Model name {model!r} is not valid: it climbs out of the log.")
    if not older_than >= 86_400:
        raise InvalidInputError(
            f"older_than is {older_than!r} seconds; retention deletes whole days, so give a "
            "day or more (e.g. 90d)."
        )
    client = client or default_client()
    report = retention.prune(client.log_files, older_than, model, now)
    if not report.days:
        _check_known(client, model)
    if report.days:
        details: dict[str, object] = {
            "days": report.days, "files": report.files, "bytes": report.bytes,
            "cutoff": report.cutoff,
        }  # fmt: skip
        client.metadata.record_event(
            "predictions.pruned", ("predictions", model or "*"), None, details
        )
    return report


def _check_known(client: Client, model: str | None) -> None:
    """A model named that neither the log nor the store has: said, rather than reported
    as a log with nothing to do (a misspelt name would look like a tidy log)."""
    if model is None or folder_of(model) in client.log_files.folders(""):
        return
    if any(m.name == model for m in client.metadata.registered_models()):
        return
    raise NotFoundError(
        f"No model {model!r} in this store. List models: prodml models list "
        "(or leave out --model for every model's log)."
    )
