"""The scoring and backfill functions given arguments of the wrong type: each refused
naming what it takes, never an AttributeError or TypeError from inside."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError

CASES: list[tuple[str, Callable[[Client], Any], str]] = [
    (
        "a model that is not text",
        lambda c: prodml.score(None, "holdout@1", client=c),  # type: ignore[arg-type]
        "A model reference is text such as 'churn@3' or 'churn@champion', not NoneType None.",
    ),
    (
        "a dataset that is not text",
        lambda c: prodml.load_table(5, client=c),  # type: ignore[arg-type]
        "A dataset reference is text such as 'flights@3', not int 5.",
    ),
    (
        "partitions that are text",
        lambda c: prodml.score("m@1", "holdout@1", partitions="2", client=c),  # type: ignore[arg-type]
        "partitions must be 1 or more (a whole number), not '2'.",
    ),
    (
        "a metric that is not text",
        lambda c: prodml.backfill_metric(None, "m", client=c),  # type: ignore[arg-type]
        "metric is text (e.g. metric='auc', model='churn'), not None.",
    ),
]


@pytest.mark.parametrize(("call", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_argument_of_the_wrong_type_is_refused_naming_what_it_takes(
    sqlite_client: Client, call: Callable[[Client], Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        call(sqlite_client)

    assert str(refused.value) == message
