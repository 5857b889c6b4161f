"""What a batch is judged against, and validations that are recorded.

``against`` is a dataset name (its logged versions, oldest first, are the history;
with ``partition_by``, the partitions of its latest version), a dataset version
(that version, or its partitions), a profile, or a list of profiles."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from prodml.client import Client
from prodml.data.checks import unique_columns
from prodml.data.profile import TableProfile, profile_partitions, profile_table, read_any
from prodml.data.refs import get_dataset
from prodml.data.sketches import family
from prodml.data.stored_profiles import profiles_of
from prodml.data.validation import validate_profiles
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.domain.ids import new_id, split_ref
from prodml.domain.validation import Finding, FindingKind, ValidationResult
from prodml.errors import InvalidInputError, NotFoundError


@dataclass
class Batch:
    profile: TableProfile
    label: str
    version: DatasetVersion | None = None
    key_findings: tuple[Finding, ...] = ()


@dataclass
class History:
    profiles: list[TableProfile]
    label: str
    keys: tuple[str, ...] = ()


def read_batch(
    client: Client, data: Any, keys: tuple[str, ...] = (), history: list[TableProfile] | None = None
) -> Batch:
    """A batch from data in memory, a table file, or a logged dataset version."""
    version = _as_version(client, data)
    if version is not None:
        return Batch(profiles_of(client, version)[0], version.ref, version)
    table, mixed = read_any(data, "the batch")
    if isinstance(data, str | os.PathLike) and str(data).lower().endswith((".csv", ".tsv")):
        table = _as_text_where_history_was(table, history or [])
    label = str(data) if isinstance(data, str | os.PathLike) else f"a {type(data).__name__}"
    findings = _key_findings(table, keys)
    return Batch(profile_table(table, label, mixed), label, None, findings)


def resolve_history(
    client: Client, against: Any, partition_by: str | None, exclude: DatasetVersion | None
) -> History:
    if isinstance(against, TableProfile):
        return History([against], against.label or "the given profile")
    if isinstance(against, list | tuple):
        if not against:
            raise InvalidInputError(
                "against is an empty list: give at least one past batch (a profile or a "
                "table), or a dataset name whose versions are the history."
            )
        return History([_as_profile(p) for p in against], f"{len(against)} given batches")
    if isinstance(against, DatasetVersion):
        return _of_version(client, against, partition_by)
    if (isinstance(against, str | os.PathLike) and Path(against).is_file()) or (
        not isinstance(against, str) and _table_like(against)
    ):
        return _of_table(against, partition_by)
    if not isinstance(against, str) or not against:
        raise InvalidInputError(
            "against must be a dataset name ('flights'), a version ('flights@3'), a "
            "reference table, or a list of past batches (profiles or tables), "
            f"not {type(against).__name__ if against is not None else 'None'}."
        )
    name, _number = split_ref(against)
    if "@" in against:
        return _of_version(client, get_dataset(client, against), partition_by)
    versions = [
        v for v in client.metadata.list_dataset_versions(name) if v.kind is DatasetKind.TABLE
    ]
    if not versions:
        raise NotFoundError(
            f"No table versions of dataset {name!r}. Log one first: prodml datasets log {name} FILE"
        )
    versions.sort(key=lambda v: v.version)
    if exclude is not None:
        versions = [
            v
            for v in versions
            if v.id != exclude.id and (v.name != exclude.name or v.version < exclude.version)
        ]
    clean = [v for v in versions if not _blocked(client, v)]
    if partition_by and clean:
        return _of_version(client, clean[-1], partition_by)
    left_out = (
        f"; {len(versions) - len(clean)} blocked version(s) left out"
        if len(clean) < len(versions)
        else ""
    )
    profiles = [profiles_of(client, v)[0] for v in clean]
    span = f"{clean[0].ref}..{clean[-1].ref}" if clean else "none"
    keys = clean[-1].key if clean else ()
    return History(profiles, f"{len(clean)} version(s) of {name} ({span}{left_out})", keys)


def _blocked(client: Client, version: DatasetVersion) -> bool:
    """A version whose latest validation found hard problems is not clean history."""
    latest = client.metadata.latest_validation(version.id)
    return latest is not None and latest.blocked


def _table_like(data: Any) -> bool:
    return type(data).__module__.split(".")[0] in ("pandas", "polars", "pyarrow") or isinstance(
        data, dict
    )


def _as_profile(item: Any) -> TableProfile:
    """A past batch given as a profile, a table in memory or a table file."""
    if isinstance(item, TableProfile):
        return item
    if isinstance(item, str | os.PathLike) or _table_like(item):
        table, mixed = read_any(item, "a reference batch")
        return profile_table(
            table, str(item) if isinstance(item, str | os.PathLike) else None, mixed
        )
    raise InvalidInputError(
        f"A past batch must be a profile, a DataFrame, an Arrow table or a table file, "
        f"not {type(item).__name__}."
    )


def _of_table(data: Any, partition_by: str | None) -> History:
    """A reference table in memory or in a file, whole or by partition."""
    name = str(data) if isinstance(data, str | os.PathLike) else type(data).__name__
    if not partition_by:
        return History([_as_profile(data)], f"the reference {name}")
    table, _ = read_any(data, "the reference table")
    profiles = list(profile_partitions(table, partition_by).values())
    return History(
        profiles, f"{len(profiles)} partitions of the reference {name} by {partition_by}"
    )


def _of_version(client: Client, version: DatasetVersion, partition_by: str | None) -> History:
    profiles = profiles_of(client, version, partition_by)
    if partition_by:
        return History(
            profiles, f"{len(profiles)} partitions of {version.ref} by {partition_by}", version.key
        )
    return History(profiles, version.ref, version.key)


def validate(
    client: Client,
    data: Any,
    against: Any,
    partition_by: str | None = None,
    checks: dict[str, Any] | None = None,
) -> ValidationResult:
    """Validate and, when the batch is a logged dataset version, record the result
    (a version with hard findings then cannot be a run input unless forced)."""
    version = _as_version(client, data)
    history = resolve_history(client, against, partition_by, version)
    keys = unique_columns(checks) if checks is not None else history.keys
    batch = read_batch(client, data, keys, history.profiles)
    result = validate_profiles(
        batch.profile,
        history.profiles,
        history.label,
        batch.label,
        list(batch.key_findings),
        checks,
        (*history.keys, *([partition_by] if partition_by else [])),
    )
    if version is not None:
        client.metadata.add_validation(
            new_id(), version.id, version.ref, history.label, result.to_dict()
        )
    return result


def _as_version(client: Client, data: Any) -> DatasetVersion | None:
    if isinstance(data, DatasetVersion):
        return data
    if isinstance(data, str) and not Path(data).exists() and "@" in data:
        return get_dataset(client, data)
    return None


def _as_text_where_history_was(table: pa.Table, history: list[TableProfile]) -> pa.Table:
    """CSV has no types: a column the reader took for dates or numbers is read as the
    text history holds, instead of being blocked as a type change."""
    if not history:
        return table
    for index, name in enumerate(table.column_names):
        past = history[-1].columns.get(name)
        column = table.column(index)
        if past is not None and family(past.type) == "text" and family(str(column.type)) != "text":
            table = table.set_column(index, name, pc.cast(column, pa.large_string()))
    return table


def _key_findings(table: Any, keys: tuple[str, ...]) -> tuple[Finding, ...]:
    """Rows that share a key: exact, on the batch's table."""
    present = [k for k in keys if k in table.column_names]
    if not present or table.num_rows == 0:
        return ()
    distinct = table.group_by(present).aggregate([]).num_rows
    repeated = table.num_rows - distinct
    if not repeated:
        return ()
    return (
        Finding(
            kind=FindingKind.SOFT,
            column=present[0],
            statistic="unique_key",
            observed=repeated,
            expected=0,
            message=f"{repeated} row(s) repeat a key ({', '.join(present)}) that should be unique.",
            score=float(repeated),
        ),
    )
