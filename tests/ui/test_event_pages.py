"""The event log page: newest first, filtered by time and kind, subjects linked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from small_store import DATASET, MODEL, Built, build
from starlette.testclient import TestClient

from prodml.client import Client
from prodml.ui.app import create_app
from prodml.ui.views.events import MAX_SHOWN


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, TestClient]]:
    client = Client(home=str(tmp_path_factory.mktemp("events") / ".prodml"), user="tester")
    made = build(client)
    with TestClient(create_app(client), base_url="http://ui.test") as pages:
        yield made, pages
    client.close()


def _actions(page: str) -> list[str]:
    return re.findall(r'<td><a href="/events\?[^"]*">([a-z_.]+)</a></td>', page)


def test_the_last_day_of_events_is_shown_newest_first_with_subjects_linked(
    built: tuple[Built, TestClient],
) -> None:
    made, pages = built
    page = pages.get("/events")
    assert page.status_code == 200
    actions = _actions(page.text)
    assert actions.index("model.alias_forced") < actions.index("dataset.logged")
    assert f'<a href="/datasets/{DATASET}/1">' in page.text
    assert f'<a href="/runs/{made.run_id}">' in page.text
    assert f'<a href="/models/{MODEL}/1">' in page.text


def test_kind_keeps_the_events_of_that_kind(built: tuple[Built, TestClient]) -> None:
    _, pages = built
    actions = _actions(pages.get("/events", params={"kind": "model"}).text)
    assert actions and all(action.startswith("model.") for action in actions)


def test_since_a_later_time_shows_none_and_a_bad_time_is_a_400(
    built: tuple[Built, TestClient],
) -> None:
    _, pages = built
    later = pages.get("/events", params={"since": "2999-01-01"})
    assert later.status_code == 200 and not _actions(later.text)
    bad = pages.get("/events", params={"since": "last tuesday"})
    assert bad.status_code == 400 and "Since &#39;last tuesday&#39; is not a time" in bad.text


def test_a_hostile_kind_is_shown_escaped(built: tuple[Built, TestClient]) -> None:
    _, pages = built
    page = pages.get("/events", params={"kind": '"><script>alert(1)</script>'})
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert pages.get("/events", params={"kind": "k" * 100}).status_code == 400


def test_past_the_page_limit_the_newest_events_are_shown_and_more_is_said(
    sqlite_client: Client, dashboard: TestClient
) -> None:
    for number in range(MAX_SHOWN + 10):
        sqlite_client.metadata.record_event("run.tagged", ("run", f"run{number:04d}"))
    page = dashboard.get("/events", params={"since": "1h"}).text
    assert f"{MAX_SHOWN}+ events" in page and "the newest 500 are shown" in page
    assert f"run{MAX_SHOWN + 9:04d}" in page and "run0000" not in page
