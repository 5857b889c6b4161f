"""A rollout page in a real browser follows a controller advancing the rollout: htmx
redraws the live part every 2 s (no reload) through shadow, canary and full to
completed, and stops asking once the rollout has ended."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from rollout_traffic import start, traffic

import prodml
from conftest import Dashboard
from prodml.client import Client
from prodml.deploy import controller

pytestmark = pytest.mark.browser
STEP_SECONDS = 20_000  # ms for the page to show the controller's next move


@pytest.fixture
def deployer(live_dashboard: Dashboard) -> Iterator[Client]:
    """A client on the dashboard's store holding its deployer token."""
    client = Client(
        home=str(live_dashboard.home),
        user="tester",
        token=live_dashboard.deployer_token,
        flush_interval=0.05,
    )
    yield client
    client.close()


@pytest.fixture
def running_controller(deployer: Client) -> Iterator[None]:
    """The rollout controller ticking every half second in the background."""
    stop = threading.Event()
    worker = threading.Thread(target=controller.watch, args=(deployer, 0.5, stop), daemon=True)
    worker.start()
    yield
    stop.set()
    worker.join(timeout=10)


def _step(page: Any) -> str:
    return str(page.locator("#live").get_attribute("data-step"))


def test_the_rollout_page_follows_the_controller_without_a_reload(
    page: Any, live_dashboard: Dashboard, deployer: Client, running_controller: None
) -> None:
    rollout = start(deployer)
    page.goto(f"{live_dashboard.url}/rollouts/{rollout.id}")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    assert page.locator("#step").inner_text() == "shadow"
    assert page.locator("#live").get_attribute("hx-trigger") == "every 2s"

    for expected in ("canary 50%", "full"):
        before = _step(page)
        traffic(deployer, rollout.id)
        page.wait_for_function(
            "(before) => document.querySelector('#live').dataset.step !== before",
            arg=before,
            timeout=STEP_SECONDS,
        )
        assert page.locator("#step").inner_text() == expected
        assert "advanced" in page.locator("#log").inner_text()

    traffic(deployer, rollout.id)
    page.wait_for_function(
        "() => document.querySelector('#live').dataset.state === 'completed'",
        timeout=STEP_SECONDS,
    )
    assert page.evaluate("window.loadedOnce") is True
    assert page.locator("#live").get_attribute("hx-trigger") is None  # polling stopped
    assert "every step passed" in page.locator("#ended").inner_text()
    assert prodml.get_model("m@champion", client=deployer).version == 2
