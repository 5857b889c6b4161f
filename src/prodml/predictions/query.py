"""SQL over the prediction log with DuckDB: a ``predictions`` view over every
segment and a ``labels`` view over every ingested label file (the latest label per
request), and ``labelled`` joining the two.

The files are listed here and nowhere else. A compacted file (``compaction.py``) names
the files it replaces in its footer, and a listing leaves those out: taken before,
during or after a compaction, it counts every row once. Only compacted files' footers
are read for that, spotted by name (the random part of the name starts with
:data:`COMPACTED`), and only those that share their hour and kind with another file
listed (:func:`contested`): once compaction has tidied an hour, a query reads no footer
before its files. On an object store every listing a query needs is sent at
once, then every footer needed.

Queries run sealed (``sql_text.seal``): they read those files and nothing else. The
log's column names and values come from requests, and generated queries name them; a
name that slipped past its quotes must not reach the host's files. People's own
queries run sealed too: many are pasted from an alert or a webhook rather than typed,
and the three views are all the command offers (the rows it returns go anywhere)."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from prodml.errors import DataReadError, InvalidInputError, ProdmlError
from prodml.predictions.layout import SHADOW_KIND, folder_of
from prodml.predictions.segment_spans import time_span
from prodml.predictions.views import create_predictions
from prodml.sql_text import literal, one_select, seal
from prodml.stores.log_files import Entry, LogFiles
from prodml.stores.log_places import open_log_files

LABELS = "_labels"  # the folder of label segments, beside the models' folders
LABEL_SKEW = timedelta(days=1)  # a label filed on the day before its request (clocks differ)
# A compacted file is named like a segment, ``<kind><HHMMSS>-<writer>-<random>.parquet``,
# with a random part that starts with this. A gateway's segment starts so by chance once
# in 16.7 million; its footer is then read and names nothing.
COMPACTED = "c0a1e5"
# The writer in a compacted file's name since it merges every writer's rows of its hour
# (each row's writer is in its column ``layout.WRITER``); earlier ones name one writer.
# Readers from before take a name without a host for a file to read the footer of always.
EVERY_WRITER = "all"
REPLACES = b"prodml.replaces"  # footer key of a compacted file: the names it replaces
CREATED = b"prodml.created"  # footer key of a compacted file: when it was made (epoch s)
# A file's name: its kind (``shadow-``, or none), the time it was written (``HHMMSS``;
# a compacted file's first segment's), its writer (``<host>.<pid>``, a pid alone in
# files written before hosts were named, :data:`EVERY_WRITER`) and a random part.
NAME = re.compile(
    r"^(?P<kind>[a-z]+-)?(?P<stamp>\d{6})-(?P<writer>[A-Za-z0-9_.]+)-(?P<random>[0-9a-f]+)"
    r"\.parquet$"
)
KINDS = ("", SHADOW_KIND)
_COMPACTED_NAME = re.compile(rf"-[A-Za-z0-9_.]+-{COMPACTED}[0-9a-f]*\.parquet$")
NAME_SLACK = timedelta(hours=1)  # rows are older than their file's name says, by this at most
LISTED_HOURS = 6  # past this many hours of a day, one listing of the day is fewer requests

EMPTY_LABELS = """
SELECT NULL::VARCHAR AS request_id, NULL::VARCHAR AS model, NULL::DOUBLE AS label,
       NULL::TIMESTAMPTZ AS labelled_at, NULL::TIMESTAMPTZ AS ingested_at,
       NULL::DOUBLE AS lag_seconds, NULL::VARCHAR AS source
WHERE false
"""


def prediction_files(
    log: LogFiles | Path,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[str]:
    """Segment files of one model (or all) that can hold rows from ``since`` to ``until``:
    the day folders between them, and in the first and last day the hours from one
    before ``since`` to one after ``until`` (a segment is named by when it was written,
    a little after its rows' times; a compacted one by its first segment's)."""
    files = open_log_files(log)
    models = _models(files, model)
    wanted = _prediction_folders(models, files.folder_lists(models), since, until)
    return _paths(files, live_folders(files, wanted))


def _models(files: LogFiles, model: str | None) -> list[str]:
    # folders named "_..." hold labels and quarantined rows, never a model's segments
    return [folder_of(model)] if model else [m for m in files.folders("") if m[:1] != "_"]


def _prediction_folders(
    models: Sequence[str],
    days: Sequence[Sequence[str]],
    since: datetime | None,
    until: datetime | None,
) -> dict[str, list[str] | None]:
    """The day folders of ``models`` (with the ``days`` each has) that can hold rows from
    ``since`` to ``until``, each with the hours to list (None: all of them)."""
    low = (since.astimezone(UTC) - NAME_SLACK) if since else None
    high = (until.astimezone(UTC) + NAME_SLACK) if until else None
    first = low.strftime("%Y-%m-%d") if low else ""
    last = high.strftime("%Y-%m-%d") if high else "9999"
    return {
        f"{name}/{day}": _hours(day, low, high)
        for name, found in zip(models, days, strict=True)
        for day in found
        if first <= day <= last
    }


def _hours(day: str, low: datetime | None, high: datetime | None) -> list[str] | None:
    """The hours (``HH``) of ``day`` between ``low`` and ``high``; None: all of them."""
    start = low.strftime("%H") if low and low.strftime("%Y-%m-%d") == day else "00"
    end = high.strftime("%H") if high and high.strftime("%Y-%m-%d") == day else "23"
    if (start, end) == ("00", "23"):
        return None
    return [f"{hour:02d}" for hour in range(int(start), int(end) + 1)]


def _paths(files: LogFiles, live: dict[str, list[Entry]]) -> list[str]:
    return sorted(files.path(entry.key) for entries in live.values() for entry in entries)


def live_files(files: LogFiles, folder: str, hours: Sequence[str] | None = None) -> list[Entry]:
    """The Parquet files of a day folder (of some ``hours`` only, when given), less those
    that compacted files replace (see :func:`replacements`)."""
    return live_folders(files, {folder: hours})[folder]


def live_folders(
    files: LogFiles, wanted: Mapping[str, Sequence[str] | None], fetch: bool = False
) -> dict[str, list[Entry]]:
    """:func:`live_files` of each folder (with its hours), every listing at once and then
    every footer needed at once (see :func:`contested`); with ``fetch``, the files whose
    footers are needed are copied whole from an object store, one request each instead
    of two, as the caller reads them next."""
    listed = _listed(files, wanted)
    needed = {folder: contested(entries) for folder, entries in listed.items()}
    every = [entry for entries in needed.values() for entry in entries]
    if fetch and every:
        with contextlib.suppress(FileNotFoundError):  # one deleted since listed: tails
            files.local_paths([files.path(entry.key) for entry in every])
    files.footers([entry.key for entry in every])
    live = {}
    for folder, entries in listed.items():
        replaced = replacements(files, needed[folder])
        live[folder] = [e for e in entries if e.name not in replaced]
    return live


def _listed(files: LogFiles, wanted: Mapping[str, Sequence[str] | None]) -> dict[str, list[Entry]]:
    """The Parquet files of each folder in its hours: one listing of the folder, or on an
    object store one of each hour's name prefixes (of each kind: a name starts with its
    kind, then its time) when that is fewer, all at once."""
    asked = [
        (folder, prefix) for folder, hours in wanted.items() for prefix in _prefixes(files, hours)
    ]
    found: dict[str, set[Entry]] = {folder: set() for folder in wanted}
    for (folder, _), entries in zip(asked, files.listings(asked), strict=True):
        found[folder].update(e for e in entries if e.name.endswith(".parquet"))
    listed = {}
    for folder, kept in found.items():
        hours = wanted[folder]
        chosen = (e for e in kept if hours is None or _hour(e.name) in hours)
        listed[folder] = sorted(chosen, key=_key)
    return listed


def _prefixes(files: LogFiles, hours: Sequence[str] | None) -> list[str]:
    if hours is None or not files.remote or len(hours) > LISTED_HOURS:
        return [""]
    return [f"{kind}{hour}" for hour in hours for kind in KINDS]


def _key(entry: Entry) -> str:
    return entry.key


def _hour(name: str) -> str | None:
    found = NAME.match(name)
    return found["stamp"][:2] if found else None


def merge_group(name: str) -> tuple[str, str] | None:
    """The files compaction merges together: the hour and kind in the name, whatever
    their writers; None for a name that is not the log's."""
    found = NAME.match(name)
    if found is None:
        return None
    return found["stamp"][:2], found["kind"] or ""


def contested(entries: Sequence[Entry]) -> list[Entry]:
    """The compacted files of a listing whose footers decide what it leaves out: those
    sharing their group (:func:`merge_group`) with another file listed. A compacted file
    replaces files of its own group only (one writer's, before compaction merged every
    writer), so one alone in its group is in force and replaces nothing listed (its
    footer is not needed); two in one group may be a newer and an older one, files of
    two writers, or duplicates. A writer without a host (``<pid>``) names files from
    before compaction was hourly, which replace other hours': always read."""
    groups = Counter(merge_group(entry.name) for entry in entries)
    return [
        entry
        for entry in entries
        if is_compacted(entry.name)
        and (groups[merge_group(entry.name)] > 1 or not is_hourly(entry.name))
    ]


def is_hourly(name: str) -> bool:
    """Whether a compacted file holds rows of the hour its name says only (not one from
    before compaction was hourly, whose writer is a pid alone)."""
    found = NAME.match(name)
    return found is not None and not found["writer"].isdigit()


def replacements(files: LogFiles, compacted: Sequence[Entry]) -> set[str]:
    """The names a listing leaves out: those replaced by a compacted file in force, and
    compacted files not in force (see :func:`resolve`)."""
    in_force, duplicates = resolve(files, compacted)
    return set().union(*in_force.values(), duplicates)


def resolve(
    files: LogFiles, compacted: Sequence[Entry]
) -> tuple[dict[str, frozenset[str]], set[str]]:
    """The compacted files in force, each with the names it replaces, and those left out
    as duplicates.

    A compacted file names in its footer every file it replaces (a segment, or an older
    compacted file and all it replaced). Compactions of the same files should not run
    at once (each claims its folder), but a claim can lapse: so files are taken in the
    order they were made, and one whose names overlap those of a file already in force,
    without replacing that file itself, is a duplicate and stays out. Every row is then
    counted once, whatever ran at the same time."""
    files.footers([entry.key for entry in compacted])
    made = []
    for entry in compacted:
        try:
            names, created = _replacing(files, entry)
        except FileNotFoundError:
            continue  # itself replaced, and deleted since the folder was listed
        except (OSError, ValueError, pa.ArrowException, ProdmlError):
            continue  # unreadable: left in, for the query to report
        made.append((created, entry.name, names))
    in_force: dict[str, frozenset[str]] = {}
    duplicates: set[str] = set()
    for _, name, names in sorted(made):
        superseded = [kept for kept in in_force if kept in names]
        others: set[str] = set()
        for kept, theirs in in_force.items():
            if kept not in superseded:
                others |= theirs
        if names & others:
            duplicates.add(name)
            continue
        for kept in superseded:
            del in_force[kept]
        in_force[name] = names
    return in_force, duplicates


def is_compacted(name: str) -> bool:
    return _COMPACTED_NAME.search(name) is not None


def replaced_names(files: LogFiles, path: str) -> frozenset[str]:
    """The names of the files the compacted file at ``path`` replaces, from its footer."""
    return _replacing(files, Entry(files.key_of(path), 0, 0.0))[0]


def _replacing(files: LogFiles, entry: Entry) -> tuple[frozenset[str], float]:
    """What a compacted file replaces and when it was made (from its footer)."""
    metadata = files.footer(entry.key).metadata or {}
    names = json.loads(metadata.get(REPLACES, b"[]"))
    try:
        created = float(metadata.get(CREATED, b"") or entry.modified)
    except ValueError:
        created = entry.modified
    found = frozenset(str(n) for n in names) if isinstance(names, list) else frozenset()
    return found - {entry.name}, created


def _overlaps(span: tuple[float, float] | None, between: tuple[float, float]) -> bool:
    return span is None or (span[1] >= between[0] and span[0] < between[1])


def label_files(log: LogFiles | Path, since: datetime | None = None) -> list[str]:
    """Label segments, in day folders of when they were ingested; with ``since`` (the
    earliest request asked about) only those ingested from the day before it on: a label
    comes after its request, so older files cannot hold one (and reading every label
    of a month to join a day's requests costs seconds)."""
    files = open_log_files(log)
    return _paths(files, live_folders(files, _label_folders(files.folders(LABELS), since)))


def _label_folders(days: Sequence[str], since: datetime | None) -> dict[str, None]:
    first = (since.astimezone(UTC) - LABEL_SKEW).strftime("%Y-%m-%d") if since else ""
    return {f"{LABELS}/{day}": None for day in days if day >= first}


def connect(
    log: LogFiles | Path,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    filename: bool = False,
    between: tuple[float, float] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the views ``predictions``, ``labels`` and ``labelled``
    (``since`` and ``until`` narrow ``predictions`` to the day folders between them,
    and ``since`` the labels to those ingested from the day before it;
    ``between`` to the segments holding rows in that span of epoch seconds, so that one
    segment's schema does not leak into windows it has no rows in; ``filename`` adds
    the segment each row came from). It reads those files and nothing else."""
    place = open_log_files(log)
    models = _models(place, model)
    *days, label_days = place.folder_lists([*models, LABELS])  # all listed at once
    segments = _prediction_folders(models, days, since, until)
    listed = {**_label_folders(label_days, since), **segments}
    live = live_folders(place, listed, fetch=True)
    files = _paths(place, {folder: live[folder] for folder in segments})
    labels = _paths(place, {f: found for f, found in live.items() if f not in segments})
    if between is not None:
        place.footers([place.key_of(f) for f in files])
        files = [f for f in files if _overlaps(time_span(place, f), between)]
    local = place.local_paths([*files, *labels])  # an object store's: copies, read once
    originals = dict(zip(local, [*files, *labels], strict=True))
    files, labels = local[: len(files)], local[len(files) :]
    connection = duckdb.connect()
    try:
        _create_views(connection, files, labels, filename)
    except duckdb.Error as error:
        connection.close()
        detail = str(error).splitlines()[0].rstrip(".")
        for copy, where in originals.items():  # a file where it lies, not its local copy
            detail = detail.replace(copy, where)
        raise DataReadError(
            f"Cannot read the prediction log at {place.url}: {detail}. A file there is not "
            "a segment prodml wrote (empty, cut short or foreign): move it out of the log "
            "folder, then run again."
        ) from None
    seal(connection, [*files, *labels])
    return connection


def _create_views(
    connection: duckdb.DuckDBPyConnection, files: list[str], labels: list[str], filename: bool
) -> None:
    create_predictions(connection, files, filename)
    source = (
        f"SELECT * FROM read_parquet({literal(labels)}, union_by_name=true)"
        if labels
        else EMPTY_LABELS
    )
    connection.execute(
        "CREATE VIEW labels AS SELECT * EXCLUDE (rank) FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY request_id ORDER BY ingested_at DESC) AS rank FROM ({source})) "
        "WHERE rank = 1"
    )
    connection.execute(
        "CREATE VIEW labelled AS SELECT p.*, l.label, l.labelled_at, l.lag_seconds "
        "FROM predictions p JOIN labels l USING (request_id)"
    )


def query(
    log: LogFiles | Path,
    sql: str,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """Run ``sql`` (one SELECT) over the log (``predictions`` narrowed to ``model``'s
    segments from the day of ``since`` to that of ``until``, when given: a query about
    one window then opens a day's segments, not the whole log's); a mistake in it is
    reported with DuckDB's message."""
    connection = connect(log, model, since, until)
    try:
        one_select(sql)
        return connection.sql(sql).to_arrow_table()
    except duckdb.PermissionException as error:
        first = str(error).splitlines()[0]
        raise InvalidInputError(
            f"The query failed: {first}. Queries over the log read only the log (tables "
            "predictions, labels, labelled); write the rows elsewhere from the result, "
            "e.g. prodml predictions query SQL --json."
        ) from None
    except duckdb.Error as error:
        first = str(error).splitlines()[0]
        raise InvalidInputError(
            f"The query failed: {first}. Tables: predictions, labels, labelled "
            "(see: prodml predictions query 'DESCRIBE predictions')."
        ) from None
    finally:
        connection.close()
