"""Validating against a logged dataset: its versions (or its latest version's partitions)
are the history, validations of logged versions are recorded, and a version with hard
findings is refused as a run input unless forced with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.domain.dataset import DatasetVersion
from prodml.domain.lineage import Event
from prodml.domain.validation import ValidationResult
from prodml.errors import InvalidInputError, NotFoundError

CITIES = ["Oslo", "Lima", "Rome", "Kyiv", "Pune"]


def _trips(seed: int, rows: int = 2000, first_id: int | None = None) -> pd.DataFrame:
    """Trips with a unique id: random, or counting up from ``first_id``."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(10**9, rows, replace=False)
    return pd.DataFrame(
        {
            "id": ids if first_id is None else np.arange(first_id, first_id + rows),
            "fare": rng.gamma(4.0, 25.0, rows),
            "distance": rng.normal(800.0, 200.0, rows),
            "city": rng.choice(CITIES, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
        }
    )


def _log_history(client: Client, versions: int = 6) -> list[DatasetVersion]:
    return [
        prodml.log_dataset("trips", _trips(seed), key="id", client=client)
        for seed in range(versions)
    ]


def _log_blocked(client: Client) -> DatasetVersion:
    """The next version of trips with its fares as text, validated: blocked."""
    version = prodml.log_dataset(
        "trips", _trips(50).assign(fare=lambda f: f["fare"].round(2).astype(str)), client=client
    )
    assert prodml.validate(version.ref, against="trips", client=client).blocked
    return version


def _found(result: ValidationResult) -> set[tuple[str, str | None, str]]:
    return {(f.kind.value, f.column, f.statistic) for f in result.findings}


def _events(client: Client, action: str) -> list[Event]:
    return [e for e in client.metadata.list_events() if e.action == action]


def test_logged_versions_are_the_history(client: Client) -> None:
    _log_history(client)

    clean = prodml.validate(_trips(20), against="trips", client=client)
    changed = prodml.validate(
        _trips(21).assign(fare=lambda f: f["fare"] * 100), against="trips", client=client
    )

    assert not clean.alarm, [f.message for f in clean.findings]
    assert clean.history == "6 version(s) of trips (trips@1..trips@6)"
    assert (clean.history_size, clean.notes) == (6, ())
    assert changed.columns_at_fault[0] == "fare"
    assert ("drift", "fare", "mean") in _found(changed)
    assert not changed.blocked


def test_validating_a_logged_version_records_the_result(client: Client) -> None:
    _log_history(client)
    version = prodml.log_dataset("trips", _trips(22), key="id", client=client)

    result = prodml.validate(version.ref, against="trips", client=client)

    assert result.subject == "trips@7"
    assert result.history == "6 version(s) of trips (trips@1..trips@6)"  # not itself
    assert not result.alarm, [f.message for f in result.findings]
    stored = client.metadata.latest_validation(version.id)
    assert stored is not None
    assert (stored.subject, stored.alarm, stored.blocked) == ("trips@7", False, False)
    assert stored.result["history"] == result.history
    (event,) = _events(client, "dataset.validated")
    assert event.subject_id == version.id
    assert event.details["validation"] == stored.id
    assert event.details["against"] == result.history


def test_validating_data_that_is_not_logged_records_nothing(client: Client) -> None:
    _log_history(client, versions=3)

    prodml.validate(_trips(23), against="trips", client=client)

    assert _events(client, "dataset.validated") == []


def test_an_earlier_version_is_judged_on_the_versions_before_it(client: Client) -> None:
    _log_history(client)

    result = prodml.validate("trips@3", against="trips", client=client)

    assert result.history == "2 version(s) of trips (trips@1..trips@2)"
    assert result.history_size == 2
    assert result.notes[0].startswith("Short history (2 batches")


def test_the_first_version_has_no_history_and_only_its_schema_is_checked(
    client: Client,
) -> None:
    _log_history(client, versions=2)

    result = prodml.validate("trips@1", against="trips", client=client)

    assert (result.history_size, result.tests, result.alarm) == (0, 0, False)
    assert "none" in result.history
    (note,) = result.notes
    assert note.startswith("No history") and "only the schema" in note


def test_a_version_with_hard_findings_is_refused_as_a_run_input(client: Client) -> None:
    _log_history(client)
    blocked = _log_blocked(client)

    for inputs in ([blocked], ["trips@7"]):
        with pytest.raises(InvalidInputError) as raised:
            prodml.start_run("fares", inputs=inputs, client=client)
        message = str(raised.value)
        assert "trips@7" in message and "type of fare" in message
        assert "force_inputs=" in message

    assert prodml.list_runs(client=client) == []
    with prodml.start_run("fares", inputs=["trips@6"], client=client) as run:
        pass  # a clean version is accepted
    assert prodml.get_run(run.id, client=client).inputs == (
        prodml.get_dataset("trips@6", client=client).id,
    )


def test_forcing_a_blocked_input_records_the_reason(client: Client) -> None:
    _log_history(client)
    blocked = _log_blocked(client)
    why = "fares arrive as text this week; the model casts them"

    with prodml.start_run("fares", inputs=[blocked], client=client, force_inputs=why) as run:
        pass

    assert prodml.get_run(run.id, client=client).inputs == (blocked.id,)
    (event,) = _events(client, "run.input_forced")
    assert (event.subject_kind, event.subject_id, event.reason) == ("run", run.id, why)
    stored = client.metadata.latest_validation(blocked.id)
    assert stored is not None
    assert event.details == {
        "dataset": "trips@7",
        "version_id": blocked.id,
        "validation": stored.id,
    }


@pytest.mark.parametrize("why", ["", "   "])
def test_forcing_needs_a_reason(client: Client, why: str) -> None:
    _log_history(client, versions=2)
    blocked = _log_blocked(client)

    with pytest.raises(InvalidInputError, match="needs a reason"):
        prodml.start_run("fares", inputs=[blocked], client=client, force_inputs=why)


def test_soft_findings_do_not_block_a_run_input(client: Client) -> None:
    _log_history(client)
    frame = _trips(24)
    frame.loc[frame.sample(frac=0.2, random_state=0).index, "distance"] = None
    version = prodml.log_dataset("trips", frame, client=client)

    result = prodml.validate(version.ref, against="trips", client=client)
    with prodml.start_run("fares", inputs=[version], client=client):
        pass

    assert result.alarm and not result.blocked
    assert ("soft", "distance", "null_share") in _found(result)
    assert _events(client, "run.input_forced") == []


def test_blocked_versions_are_left_out_of_later_history(client: Client) -> None:
    _log_history(client)
    _log_blocked(client)
    later = prodml.log_dataset("trips", _trips(25), key="id", client=client)

    result = prodml.validate(later.ref, against="trips", client=client)

    assert result.history_size == 6
    assert result.history == (
        "6 version(s) of trips (trips@1..trips@6; 1 blocked version(s) left out)"
    )
    assert not result.alarm, [f.message for f in result.findings]


def test_a_later_validation_that_passes_lifts_the_block(client: Client) -> None:
    _log_history(client)
    blocked = _log_blocked(client)
    checks = prodml.infer_checks("trips", client=client)
    checks["columns"]["fare"]["type"]["expect"] = "large_string"  # fares are text now

    result = prodml.validate(blocked.ref, against="trips", checks=checks, client=client)
    with prodml.start_run("fares", inputs=[blocked], client=client):
        pass

    assert not result.blocked
    assert _events(client, "run.input_forced") == []


def test_repeated_keys_of_the_dataset_are_a_soft_finding(client: Client) -> None:
    _log_history(client, versions=3)
    batch = _trips(26)
    batch.loc[:99, "id"] = batch.loc[0, "id"]

    result = prodml.validate(batch, against="trips", client=client)

    finding = next(f for f in result.findings if f.statistic == "unique_key")
    assert (finding.kind.value, finding.column, finding.observed) == ("soft", "id", 99)
    assert not result.blocked


def test_a_key_is_judged_on_completeness_only(client: Client) -> None:
    for seed in range(6):
        prodml.log_dataset("trips", _trips(seed, first_id=2000 * seed), key="id", client=client)

    # new ids by design: the source moved to a new range of ids
    result = prodml.validate(_trips(6, first_id=10**6), against="trips", client=client)

    assert not result.alarm, [f.message for f in result.findings]


def _days(first: int, last: int, seed: int) -> pd.DataFrame:
    """Trips of days ``first`` to ``last``, 1,000 a day."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                "day": f"2024-01-{day:02d}",
                "fare": rng.gamma(4.0, 25.0, 1000),
                "city": rng.choice(CITIES, 1000, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
            }
        )
        for day in range(first, last + 1)
    ]
    return pd.concat(frames, ignore_index=True)


def test_partition_by_judges_against_partitions_of_the_latest_version(client: Client) -> None:
    prodml.log_dataset("arrivals", _days(1, 6, seed=1), client=client)
    prodml.log_dataset("arrivals", _days(1, 12, seed=2), client=client)
    redelivered = _days(12, 12, seed=3)

    clean = prodml.validate(redelivered, against="arrivals", partition_by="day", client=client)
    changed = prodml.validate(
        redelivered.assign(fare=lambda f: f["fare"] * 100),
        against="arrivals",
        partition_by="day",
        client=client,
    )

    assert clean.history == "12 partitions of arrivals@2 by day"
    assert clean.history_size == 12 and clean.rows == 1000
    assert not clean.alarm, [f.message for f in clean.findings]
    assert changed.columns_at_fault == ("fare",)


def test_the_next_partition_is_not_flagged_for_its_new_partition_value(client: Client) -> None:
    prodml.log_dataset("arrivals", _days(1, 12, seed=4), client=client)

    result = prodml.validate(
        _days(13, 13, seed=5), against="arrivals", partition_by="day", client=client
    )

    assert not result.alarm, [f.message for f in result.findings]


def test_partition_by_a_column_the_dataset_lacks_names_it(client: Client) -> None:
    _log_history(client, versions=1)

    with pytest.raises(InvalidInputError, match="'week'"):
        prodml.validate(_trips(27), against="trips", partition_by="week", client=client)


def test_an_unknown_dataset_says_how_to_log_one(client: Client) -> None:
    with pytest.raises(NotFoundError, match="prodml datasets log flights FILE"):
        prodml.validate(_trips(28), against="flights", client=client)
