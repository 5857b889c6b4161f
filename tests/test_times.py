"""Times as people type them: one parser behind every --since and --as-of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from prodml.errors import InvalidInputError
from prodml.times import moment, parse, span

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "back"),
    [("0s", timedelta(0)), ("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)),
     ("1h", timedelta(hours=1)), ("24h", timedelta(days=1)),
     ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)), (" 1.5h ", timedelta(minutes=90)),
     ("now", timedelta(0)), ("yesterday", timedelta(days=1))],
)  # fmt: skip
def test_spans_count_back_from_now(typed: str, back: timedelta) -> None:
    assert parse(typed, "--since", now=NOW) == NOW - back


def test_iso_times_and_dates_are_read_with_their_zone_or_as_local_time() -> None:
    assert parse("2026-11-24T09:30:00Z") == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert parse("2026-11-24T09:30:00+01:00") == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    local = parse("2026-11-24")
    assert local.tzinfo is not None
    assert local.replace(tzinfo=None) == datetime(2026, 11, 24)


@pytest.mark.parametrize("typed", ["999999999999999d", "99999999w"])
def test_a_span_past_the_first_year_is_refused_not_an_overflow(typed: str) -> None:
    with pytest.raises(InvalidInputError, match="before the year 1"):
        parse(typed, "--since")


@pytest.mark.parametrize("typed", ["soon", "last tuesday", "-1h", "3y", "1 hour", ""])
def test_anything_else_is_refused_naming_the_accepted_forms(typed: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse(typed, "--since")

    message = str(refused.value)
    assert f"--since {typed!r} is not a time" in message
    assert "ISO 8601" in message and "30s, 30m, 1h, 24h, 7d, 2w" in message and "'now'" in message


def test_every_span_written_is_read_back() -> None:
    for seconds in (0.5, 45, 60, 5400, 7200, 86400, 3 * 86400):
        assert parse(span(seconds), now=NOW) == NOW - timedelta(seconds=seconds)


def test_moment_takes_a_datetime_as_given_and_text_through_the_parser() -> None:
    assert moment(None) is None
    assert moment(NOW) == NOW
    assert moment(datetime(2026, 1, 1)).tzinfo is not None  # type: ignore[union-attr]
    assert moment("2026-11-24T09:30:00Z") == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_a_zone_typed_into_a_url_without_encoding_its_plus_is_read() -> None:
    # ?as_of=2026-11-24T09:30:00+01:00 arrives with the "+" decoded as a space
    assert parse("2026-11-24T09:30:00 01:00") == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    assert parse("2026-11-24 09:30 00:00") == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
