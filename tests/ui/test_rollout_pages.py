"""The rollout pages: every rollout, one rollout's live part (stage, split, checks,
sign-off, decision log) redrawn by htmx while it runs and changed by the controller
between two requests, why it ended, and the actions a deployer may take."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rollout_traffic import MODEL, start, traffic
from seed import Seeded, seed
from starlette.testclient import TestClient
from ui_forms import csrf_of

import prodml
from prodml.client import Client
from prodml.deploy import controller
from prodml.ui.app import create_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Seeded]]:
    client = Client(home=str(tmp_path_factory.mktemp("rollouts") / ".prodml"), user="tester")
    made = seed(client)
    yield client, made
    client.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Client]:
    client = Client(home=str(tmp_path / ".prodml"), user="tester", flush_interval=0.05)
    yield client
    client.close()


def _pages(client: Client, read_only: bool = False) -> TestClient:
    app = create_app(client, read_only=read_only)
    return TestClient(app, base_url="http://ui.test", follow_redirects=False)


def _live(pages: TestClient, rollout_id: str) -> tuple[str, str, str]:
    """The live part's state, step label and decision log actions."""
    part = pages.get(f"/rollouts/{rollout_id}/live", headers={"HX-Request": "true"}).text
    state = re.search(r'id="state">([^<]+)<', part)
    step = re.search(r'id="step">([^<]+)<', part)
    log = part.split('id="log"')[1]
    actions = ",".join(
        re.findall(r"<td>(started|advanced|completed|rolled_back|aborted)</td>", log)
    )
    assert state and step
    return state.group(1), step.group(1), actions


def test_the_seeded_canary_shows_its_stage_split_checks_and_log(
    seeded: tuple[Client, Seeded],
) -> None:
    client, made = seeded
    with _pages(client) as pages:
        listing = pages.get("/rollouts").text
        page = pages.get(f"/rollouts/{made.rollout_id}").text

    assert f'href="/rollouts/{made.rollout_id}"' in listing and "running" in listing
    assert 'id="step">canary 10%<' in page
    assert "answers 10.0% of requests, the champion v2 90.0%" in page
    checks = page.split('id="checks"')[1].split("</table>")[0]
    assert "min_duration" in checks and "error_rate" in checks and "inconclusive" in checks
    assert f'hx-get="/rollouts/{made.rollout_id}/live" hx-trigger="every 2s"' in page
    assert "challenger to 10% of traffic" in page.split('id="log"')[1]
    assert f'hx-get="/rollouts/{made.rollout_id}/slices" hx-trigger="load"' in page


def test_the_live_part_changes_as_the_controller_advances_and_stops_polling_at_the_end(
    store: Client,
) -> None:
    rollout = start(store)
    with _pages(store) as pages:
        assert _live(pages, rollout.id) == ("running", "shadow", "started")

        traffic(store, rollout.id)
        (decision,) = controller.tick(store)
        assert decision.action == "advanced"
        state, step, log = _live(pages, rollout.id)
        assert (state, step, log) == ("running", "canary 50%", "advanced,started")

        for _ in range(2):
            traffic(store, rollout.id)
            controller.tick(store)
        ended = pages.get(f"/rollouts/{rollout.id}/live").text
        slices = pages.get(f"/rollouts/{rollout.id}/slices").text

    assert 'id="state">completed<' in ended and "hx-trigger" not in ended
    assert re.search(r'id="ended"><strong>Ended</strong>.*every step passed', ended)
    assert prodml.get_model(f"{MODEL}@champion", client=store).version == 2
    every = slices.split('id="slices"')[1].split("</tr>")[1]
    assert "<td>all</td>" in every and "100.0%" in every  # both answered alike


def test_a_rollout_waiting_for_sign_off_says_who_it_waits_for(store: Client) -> None:
    rollout = start(store)
    prodml.require_approval(MODEL, "alice", client=store)
    for _ in range(3):
        traffic(store, rollout.id)
        controller.tick(store)
    with _pages(store) as pages:
        part = pages.get(f"/rollouts/{rollout.id}/live").text

    assert 'id="step">full<' in part and 'id="state">running<' in part
    assert re.search(r'id="awaiting">.*waiting</span> for alice', part)


def test_pause_and_abort_from_the_dashboard_are_recorded_with_the_reason(store: Client) -> None:
    rollout = start(store)
    with _pages(store) as pages:
        page = pages.get(f"/rollouts/{rollout.id}").text
        paused = pages.post(
            f"/rollouts/{rollout.id}/pause", data={"csrf": csrf_of(page), "why": "holiday freeze"}
        )
        assert paused.status_code == 303
        assert _live(pages, rollout.id)[0] == "paused"
        aborted = pages.post(f"/rollouts/{rollout.id}/abort", data={"csrf": csrf_of(page)})
        assert aborted.status_code == 303
        ended = pages.get(f"/rollouts/{rollout.id}").text

    assert "holiday freeze" in ended.split('id="log"')[1]
    assert 'id="state">aborted<' in ended and 'id="actions"' not in ended


def test_read_only_and_token_less_actions_are_refused_with_403(store: Client) -> None:
    rollout = start(store)
    with _pages(store, read_only=True) as pages:
        page = pages.get(f"/rollouts/{rollout.id}").text
        csrf = re.search(r'name="csrf" value="([^"]*)"', page)
        refused = pages.post(
            f"/rollouts/{rollout.id}/abort", data={"csrf": csrf.group(1) if csrf else ""}
        )
    assert refused.status_code == 403 and "read-only" in refused.text
    assert 'id="actions"' not in page

    change = prodml.enable_auth("admin", client=store)
    assert change.token is not None
    with _pages(store) as pages:
        page = pages.get(f"/rollouts/{rollout.id}").text
        denied = pages.post(f"/rollouts/{rollout.id}/abort", data={"csrf": csrf_of(page)})
    assert denied.status_code == 403 and "deployer role" in denied.text
    assert prodml.get_rollout(rollout.id, client=store).rollout.state == "running"


def test_an_unknown_rollout_or_action_fails_alone(store: Client) -> None:
    with _pages(store) as pages:
        missing = pages.get("/rollouts/0123456789ab")
        page = pages.get("/login").text
        odd = pages.post("/rollouts/0123456789ab/explode", data={"csrf": csrf_of(page)})
    assert missing.status_code == 404 and "No rollout" in missing.text
    assert odd.status_code == 400 and "No rollout action &#39;explode&#39;" in odd.text
