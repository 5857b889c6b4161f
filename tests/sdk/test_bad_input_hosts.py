"""``hosts(within)`` takes seconds, 0 or more: NaN (which every comparison fails, so
nothing was ever listed) is refused naming the argument."""

from __future__ import annotations

import pytest

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError


@pytest.mark.parametrize("within", [float("nan"), -1.0, "3600"])
def test_a_window_that_is_not_seconds_is_refused_naming_it(
    sqlite_client: Client, within: object
) -> None:
    with pytest.raises(InvalidInputError, match=r"^within \(--within\) is .*give seconds"):
        prodml.hosts(within, client=sqlite_client)  # type: ignore[arg-type]


def test_every_window_of_zero_or_more_seconds_is_taken(sqlite_client: Client) -> None:
    assert [prodml.hosts(w, client=sqlite_client) for w in (0, 60.5, float("inf"))] == [[]] * 3
