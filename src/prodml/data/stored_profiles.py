"""Profiles of dataset versions, stored as blobs beside the version and made on demand."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pyarrow as pa

from prodml.client import Client
from prodml.data.profile import TableProfile, profile_partitions, profile_table
from prodml.data.rows import duplicate_rows
from prodml.data.sketches import ColumnProfile, profile_column
from prodml.data.stored_tables import load_table
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.errors import InvalidInputError


def store_profile(
    client: Client,
    version: DatasetVersion,
    table: pa.Table,
    carried: DatasetVersion | None = None,
    made: Mapping[str, ColumnProfile] | None = None,
) -> TableProfile:
    """Profile a freshly logged table version and store the profile (once per version).
    The columns it carries unchanged from the table version ``carried`` (same rows, same
    order) take that version's column profiles, those in ``made`` the profiles made
    already; the others and the rows are profiled."""
    known = client.metadata.profile_blob(version.id)
    if known is not None:
        return _load(client, known)[0]
    if carried is None and not made:
        profile = profile_table(table, version.ref)
    else:
        base = {} if carried is None else profiles_of(client, carried)[0].columns
        profile = _extended({**base, **(made or {})}, table, version.ref)
    _store(client, version, "", [profile])
    return profile


def store_parts_profile(client: Client, version: DatasetVersion, profile: TableProfile) -> None:
    """Keep a profile made in parts as the version's, unless it has one already."""
    if client.metadata.profile_blob(version.id) is None:
        _store(client, version, "", [profile])


def _extended(known: Mapping[str, ColumnProfile], table: pa.Table, label: str) -> TableProfile:
    columns = {
        name: known[name] if name in known else profile_column(name, column)
        for name, column in zip(table.column_names, table.columns, strict=True)
    }
    duplicates, hashes = duplicate_rows(table)
    return TableProfile(table.num_rows, duplicates, columns, hashes, label)


def profiles_of(
    client: Client,
    version: DatasetVersion,
    partition_by: str | None = None,
    table: pa.Table | None = None,
) -> list[TableProfile]:
    """The version's profile, or one per partition (in partition order); made and
    stored on first use."""
    if version.kind is not DatasetKind.TABLE:
        raise InvalidInputError(
            f"Dataset {version.ref} is a set of files; only tables have profiles. "
            "Validate a table dataset instead."
        )
    key = partition_by or ""
    blob = client.metadata.profile_blob(version.id, key)
    if blob is not None:
        return [_relabel(p, version, partition_by) for p in _load(client, blob)]
    if table is None:
        table = load_table(client, version)
    if partition_by:
        profiles = list(profile_partitions(table, partition_by).values())
    else:
        profiles = [profile_table(table, version.ref)]
    _store(client, version, key, profiles)
    return [_relabel(p, version, partition_by) for p in profiles]


def _relabel(
    profile: TableProfile, version: DatasetVersion, partition_by: str | None
) -> TableProfile:
    profile.label = f"{version.ref} {profile.label}" if partition_by else version.ref
    return profile


def _store(client: Client, version: DatasetVersion, key: str, profiles: list[TableProfile]) -> None:
    raw = json.dumps([p.to_dict() for p in profiles], separators=(",", ":")).encode()
    digest, _ = client.artifacts.put_bytes(raw)
    client.metadata.put_profile(version.id, key, digest, len(profiles))


def _load(client: Client, digest: str) -> list[TableProfile]:
    return [TableProfile.from_dict(doc) for doc in json.loads(client.read_blob(digest))]
