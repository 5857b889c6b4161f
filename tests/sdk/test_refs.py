"""One resolver for what people type to name a stored object: ids, versions, aliases."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.domain.lineage import NodeKind
from prodml.errors import InvalidInputError, NotFoundError


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


class _Model:
    def predict(self, rows: list[float]) -> list[float]:
        return rows


def _seed(client: Client) -> dict[str, str]:
    flights = prodml.log_dataset("flights", pd.DataFrame({"a": [1, 2]}), client=client)
    with prodml.start_run("delay", inputs=[flights], client=client) as run:
        first = run.log_model(_Model(), "delay")
        second = run.log_model(_Model(), "delay")
    prodml.set_alias("delay@1", "staging", client=client)
    return {"flights": flights.id, "run": run.id, "first": first.id, "second": second.id}


def test_every_form_of_reference_names_its_object(client: Client) -> None:
    ids = _seed(client)

    def resolved(ref: str) -> tuple[NodeKind, str]:
        node = prodml.resolve(ref, client=client)
        return node.kind, node.id

    assert resolved(ids["run"][:8]) == (NodeKind.RUN, ids["run"])
    assert resolved("flights@1") == resolved("flights@latest") == (NodeKind.DATASET, ids["flights"])
    assert resolved("flights") == (NodeKind.DATASET, ids["flights"])
    assert resolved("delay@1") == resolved("delay@staging") == (NodeKind.MODEL, ids["first"])
    assert resolved("delay@latest") == resolved("delay") == (NodeKind.MODEL, ids["second"])
    assert resolved(f"delay@{ids['second'][:8]}") == (NodeKind.MODEL, ids["second"])
    assert prodml.resolve("delay@staging", client=client).label == "model delay@1"


def test_an_alias_resolves_as_it_was_at_a_past_time(client: Client) -> None:
    ids = _seed(client)
    time.sleep(0.05)
    before = datetime.now(UTC)
    time.sleep(0.05)
    prodml.set_alias("delay@2", "staging", client=client)

    assert prodml.resolve("delay@staging", as_of=before, client=client).id == ids["first"]
    assert prodml.resolve("delay@staging", client=client).id == ids["second"]


def test_what_is_missing_is_named_with_the_next_step(client: Client) -> None:
    _seed(client)

    with pytest.raises(NotFoundError) as no_alias:
        prodml.resolve("delay@champion", client=client)
    with pytest.raises(NotFoundError) as no_name:
        prodml.resolve("nope@1", client=client)
    with pytest.raises(NotFoundError) as nothing:
        prodml.resolve("zzzzz", client=client)
    with pytest.raises(InvalidInputError):
        prodml.resolve("  ", client=client)

    assert "no alias 'champion'" in str(no_alias.value)
    assert "prodml models history delay" in str(no_alias.value)
    assert "no dataset is named 'nope'" in str(no_name.value)
    assert "no model is named 'nope'" in str(no_name.value)
    assert "MODEL@champion" in str(nothing.value) and "prodml runs list" in str(nothing.value)


def test_lineage_follows_an_alias_and_events_take_a_relative_time(client: Client) -> None:
    ids = _seed(client)

    tree = prodml.upstream("delay@staging", client=client)
    recent = prodml.events(since="1h", action="model.", client=client)

    assert tree.node.id == ids["first"]
    assert [child.node.id for child in tree.children] == [ids["run"]]
    assert recent and all(event.action.startswith("model.") for event in recent)
    assert prodml.events(since="2099-01-01", client=client) == []
