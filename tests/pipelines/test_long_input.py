"""What a user typed is echoed cut to 60 characters with its length, as lookups do: a
pasted override or step name of thousands of characters filled the terminal, three
times over."""

from __future__ import annotations

import pytest
from pipeline_project import CHAIN, CHAIN_STEPS, Project, log_numbers

from prodml.client import Client
from prodml.errors import InvalidInputError

LONG = "k" * 5000


@pytest.mark.parametrize(
    ("overrides", "force"),
    [
        ([f"{LONG}=1"], ()),
        ([f"+scale.factor={LONG}"], ()),
        ([f"scale.factor.{LONG}=1"], ()),
        ([f"{LONG}="], ()),
        ([LONG], ()),
        ([], (LONG,)),
    ],
)
def test_a_long_override_or_step_name_is_echoed_cut(
    sqlite_client: Client, project: Project, overrides: list[str], force: tuple[str, ...]
) -> None:
    log_numbers(sqlite_client, [1])
    project.write("pipeline.yaml", CHAIN)
    project.write("steps.py", CHAIN_STEPS)

    with pytest.raises(InvalidInputError) as raised:
        project.run(sqlite_client, *overrides, force=force)

    message = str(raised.value)
    assert len(message) < 600, message[:300]
    assert "5,0" in message  # the length of what was typed
