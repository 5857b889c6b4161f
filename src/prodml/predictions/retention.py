"""Retention of the prediction log: whole days deleted once they are older than a span.

The log is laid out by day (``<model>/<YYYY-MM-DD>/``, the labels' and the
quarantine's too; a model's folder is one level, see ``layout.folder_of``), so a day
past retention goes in one folder delete: on an object store one listing of its
prefix and a batched delete, never a scan of the log. A day is deleted only when all
of it is older than the cutoff (its last second included), so retention never takes a
row younger than it promises to keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prodml.predictions.layout import folder_of
from prodml.predictions.query import LABELS
from prodml.predictions.segments import QUARANTINE
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files


@dataclass(frozen=True)
class PruneReport:
    days: int = 0  # day folders deleted (one per model, labels and quarantine)
    files: int = 0
    bytes: int = 0
    cutoff: str = ""  # rows of days ending before this were deleted (ISO, UTC)
    deleted: tuple[str, ...] = field(default=())  # the folders deleted, "<model>/<day>"


def prune(
    log: LogFiles | Path, older_than: float, model: str | None = None, now: float | None = None
) -> PruneReport:
    """Delete every day folder (of ``model``, or of every model, the labels and the
    quarantine) whose whole day ended more than ``older_than`` seconds before ``now``."""
    files = open_log_files(log)
    current = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    cutoff = current - timedelta(seconds=older_than)
    last_kept = cutoff.strftime("%Y-%m-%d")  # a day ending after the cutoff stays whole
    if model is not None:
        owners = [folder_of(model)]
    else:
        owners = [m for m in files.folders("") if m[:1] != "_"] + [LABELS]
        owners += [f"{QUARANTINE}/{m}" for m in files.folders(QUARANTINE)]
    past = [
        f"{owner}/{day}"
        for owner, days in zip(owners, files.folder_lists(owners), strict=True)
        for day in days
        if _is_day(day) and day < last_kept
    ]
    count = size = 0
    deleted = []
    # A day folder holds files only. One holding folders is not a day: a log written
    # before a model's folder was one level kept model x/2020-01-01 in x/2020-01-01/.
    for folder, inside in zip(past, files.folder_lists(past), strict=True):
        if not inside:
            found, weight = files.delete_folder(folder)
            count, size = count + found, size + weight
            deleted.append(folder)
    shown = (cutoff + timedelta(microseconds=500_000)).isoformat(timespec="seconds")
    return PruneReport(len(deleted), count, size, shown, tuple(deleted))


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d")
    except ValueError:
        return False
    return True
