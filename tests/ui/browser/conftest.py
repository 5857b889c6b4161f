"""Browser tests: a real ``prodml ui`` (a subprocess) on a copy of the seeded store with
access control on, driven by Playwright in headless Chromium.

The browser is Debian's ``chromium`` (``PRODML_CHROMIUM`` names another binary);
without one the tests are skipped with a reason saying how to install it
(``.ci/run`` installs it). Every page a test opens records the console's errors and
the page's uncaught exceptions, and the test fails on any it did not expect."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from seed import SeededStore

import prodml
from prodml.client import Client
from prodml.domain.monitoring import Alert

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)

STARTUP_SECONDS = 30.0


def chromium_path() -> str | None:
    given = os.environ.get("PRODML_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@dataclass(frozen=True)
class Dashboard:
    url: str  # e.g. http://127.0.0.1:43123
    home: Path  # the store it serves (a copy of the seeded one)
    deployer_token: str
    client: Client  # a client on the same store, for checking what a test changed
    seeded_open_alert: str
    seeded_incident: str
    seeded_incident_alert: str
    seeded_rollout: str
    seeded_run: str

    def alert(self, alert_id: str) -> Alert:
        return prodml.get_alert(alert_id, client=self.client)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prodml ui exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/login", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"prodml ui did not answer within {STARTUP_SECONDS:.0f} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def live_dashboard(
    seeded_store: SeededStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """``prodml ui`` on a copy of the seeded store, auth on (a deployer token made)."""
    folder = tmp_path_factory.mktemp("browser")
    home = folder / ".prodml"
    shutil.copytree(seeded_store.home, home)
    client = Client(home=str(home), user="tester", flush_interval=0.05)
    token = prodml.enable_auth("admin", client=client).token
    assert token is not None
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    env.update(PRODML_HOME=str(home), PRODML_USER="dashboard", PRODML_UI_URL=url)
    log = folder / "ui.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "prodml.cli.main", "ui", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(url, server, log)
        seeded = seeded_store.seeded
        yield Dashboard(
            url=url,
            home=home,
            deployer_token=token,
            client=client,
            seeded_open_alert=seeded.open_alert,
            seeded_incident=seeded.incident,
            seeded_incident_alert=seeded.incident_alert,
            seeded_rollout=seeded.rollout_id,
            seeded_run=seeded.run_ids[0],
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        client.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "BROWSER TESTS SKIPPED: no chromium binary found. Install it (Debian: "
            "apt-get install -y chromium) or name one with PRODML_CHROMIUM; .ci/run does this."
        )
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@dataclass
class Console:
    """What the page said went wrong; ``allow`` patterns a test expects to see."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: object, console: Console) -> Iterator[object]:
    """A fresh browser page (its own cookies); the test fails on any console error or
    uncaught exception it did not ``console.allow``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    opened = context.new_page()
    opened.on(
        "console",
        lambda message: (
            console.errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    opened.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))
    yield opened
    context.close()
    unexpected = console.unexpected()
    assert not unexpected, "the browser reported errors:\n" + "\n".join(unexpected)
