"""A sweep's trials are found by its name whatever the name holds: a quote or a
backslash in it is written into the search as the filter language escapes it."""

from __future__ import annotations

from pathlib import Path

import pytest

import prodml
from prodml.client import Client


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _trials(client: Client, sweep: str, count: int) -> list[str]:
    ids = []
    for trial in range(count):
        tags = {"prodml.sweep": sweep, "prodml.trial": str(trial)}
        with prodml.start_run("sweeps", tags=tags, client=client) as run:
            ids.append(run.id)
    return ids


@pytest.mark.parametrize("name", ["Dana's sweep", "depth\\width", "it's a \\'test\\'"])
def test_the_trials_of_a_sweep_named_with_quotes_or_backslashes_are_found(
    client: Client, name: str
) -> None:
    wanted = _trials(client, name, 2)
    _trials(client, "Dana", 1)  # a name that only a broken escape would match

    found = prodml.sweep_trials(name, client=client)

    assert [run.id for run in found] == wanted
