"""Stored profiles of dataset versions and stored validation results, on each database:
a profile per logged table version (and per partition column), the newest validation
of a version, and garbage collection that keeps profile blobs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.data.profile import TableProfile
from prodml.errors import InvalidInputError
from prodml.stores.gc import collect


def _trips(seed: int, rows: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "day": rng.choice(["mon", "tue", "wed"], rows),
            "fare": rng.gamma(4.0, 25.0, rows),
        }
    )


def _stored(client: Client, version_id: str, partition_by: str = "") -> list[TableProfile]:
    blob = client.metadata.profile_blob(version_id, partition_by)
    assert blob is not None
    return [TableProfile.from_dict(doc) for doc in json.loads(client.read_blob(blob))]


def _result(alarm: bool, blocked: bool) -> dict[str, object]:
    return {"alarm": alarm, "blocked": blocked, "findings": [], "history": "trips@1"}


def test_logging_a_table_stores_its_profile(client: Client) -> None:
    frame = _trips(1)

    version = prodml.log_dataset("trips", frame, client=client)

    (profile,) = _stored(client, version.id)
    assert (profile.rows, list(profile.columns)) == (1000, ["day", "fare"])
    assert profile.columns["fare"].mean == pytest.approx(frame["fare"].mean(), rel=1e-12)
    assert client.metadata.profile_blob(version.id, "day") is None  # partitions: on demand


def test_logging_the_same_table_again_keeps_its_one_profile(client: Client) -> None:
    first = prodml.log_dataset("trips", _trips(2), client=client)
    blob = client.metadata.profile_blob(first.id)

    again = prodml.log_dataset("trips", _trips(2), client=client)
    client.metadata.put_profile(first.id, "", "0" * 64, 1)

    assert again.id == first.id
    assert client.metadata.profile_blob(first.id) == blob


def test_logging_with_partition_by_stores_a_profile_per_partition(client: Client) -> None:
    frame = _trips(3)

    version = prodml.log_dataset("trips", frame, partition_by="day", client=client)

    profiles = _stored(client, version.id, "day")
    assert [p.rows for p in profiles] == frame["day"].value_counts().sort_index().tolist()
    assert [p.label for p in profiles] == ["day=mon", "day=tue", "day=wed"]
    assert len(_stored(client, version.id)) == 1


def test_logging_with_partition_by_a_missing_column_names_it(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="'week'"):
        prodml.log_dataset("trips", _trips(4), partition_by="week", client=client)

    assert prodml.list_datasets("trips", client=client) == []


def test_partition_profiles_are_stored_on_first_use(client: Client) -> None:
    version = prodml.log_dataset("trips", _trips(5), client=client)
    assert client.metadata.profile_blob(version.id, "day") is None

    result = prodml.validate(
        _trips(6).query("day == 'tue'"), against="trips", partition_by="day", client=client
    )

    assert result.history == "3 partitions of trips@1 by day"
    assert len(_stored(client, version.id, "day")) == 3


def test_a_set_of_files_has_no_profile(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"jpg")

    version = prodml.log_dataset("images", folder, client=client)

    assert client.metadata.profile_blob(version.id) is None


def test_the_latest_validation_of_a_version_is_the_newest(client: Client) -> None:
    first = prodml.log_dataset("trips", _trips(7), client=client)
    second = prodml.log_dataset("trips", _trips(8), client=client)
    assert client.metadata.latest_validation(first.id) is None

    client.metadata.add_validation("v-old", first.id, first.ref, "x", _result(True, True))
    client.metadata.add_validation("v-new", first.id, first.ref, "y", _result(True, False))
    client.metadata.add_validation("v-other", second.id, second.ref, "z", _result(True, True))

    latest = client.metadata.latest_validation(first.id)
    assert latest is not None
    assert (latest.id, latest.blocked, latest.alarm) == ("v-new", False, True)
    assert (latest.version_id, latest.subject, latest.against) == (first.id, first.ref, "y")
    assert (latest.result["blocked"], latest.author) == (False, "tester")
    events = [e for e in client.metadata.list_events() if e.action == "dataset.validated"]
    assert [(e.subject_id, e.details["validation"]) for e in events] == [
        (first.id, "v-old"),
        (first.id, "v-new"),
        (second.id, "v-other"),
    ]
    assert events[0].details["blocked"] is True and events[1].details["against"] == "y"


def test_a_validation_of_data_that_is_not_logged_is_no_event(client: Client) -> None:
    client.metadata.add_validation("v-file", None, "batch.csv", "trips", _result(False, False))

    assert [e for e in client.metadata.list_events() if e.action == "dataset.validated"] == []


def test_garbage_collection_keeps_profile_blobs(client: Client) -> None:
    version = prodml.log_dataset("trips", _trips(9), partition_by="day", client=client)
    profiles = {
        client.metadata.profile_blob(version.id),
        client.metadata.profile_blob(version.id, "day"),
    }
    stray, _ = client.artifacts.put_bytes(b"referenced by nothing")

    dry = collect(client.metadata, client.artifacts, delete=False, grace=0)
    collect(client.metadata, client.artifacts, delete=True, grace=0)

    assert [blob.digest for blob in dry.unreferenced] == [stray]
    assert None not in profiles and profiles <= client.metadata.referenced_digests()
    result = prodml.validate(
        _trips(10).query("day == 'mon'"), against="trips", partition_by="day", client=client
    )
    assert result.history_size == 3
    assert len(_stored(client, version.id)) == 1
