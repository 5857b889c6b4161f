"""The dashboard in-process: ``dashboard`` is a client of ``create_app`` on a fresh store
(httpx through Starlette's TestClient, so server errors fail the test);
``seeded_dashboard`` is one on the store :mod:`seed` fills once per session, and
``seeded_copy`` a client on a copy of it for tests that change it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from seed import SeededStore, seed
from starlette.testclient import TestClient

from prodml.client import Client
from prodml.ui.app import create_app


@pytest.fixture
def dashboard(sqlite_client: Client) -> Iterator[TestClient]:
    with TestClient(
        create_app(sqlite_client), base_url="http://ui.test", follow_redirects=False
    ) as client:
        yield client


# --- the seeded store (tests/ui/seed.py) -------------------------------------------------


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededStore]:
    """One store seeded once for the whole session; read it, never change it."""
    home = tmp_path_factory.mktemp("seeded") / ".prodml"
    made = Client(home=str(home), user="tester", flush_interval=0.05)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(home.parent)  # runs capture no code diff of this checkout
        seeded = seed(made)
    yield SeededStore(home, made, seeded)
    made.close()


@pytest.fixture(scope="session")
def seeded_client(seeded_store: SeededStore) -> Client:
    """A client on the session's seeded store (read only)."""
    return seeded_store.client


@pytest.fixture
def seeded_dashboard(seeded_store: SeededStore) -> Iterator[TestClient]:
    """The dashboard on the session's seeded store, for pages that only read."""
    with TestClient(
        create_app(seeded_store.client), base_url="http://ui.test", follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def seeded_copy(seeded_store: SeededStore, tmp_path: Path) -> Iterator[Client]:
    """A client on a fresh copy of the seeded store, for tests that change it."""
    shutil.copytree(seeded_store.home, tmp_path / ".prodml")
    made = Client(home=str(tmp_path / ".prodml"), user="tester", flush_interval=0.05)
    yield made
    made.close()
