"""The dashboard in-process: ``dashboard`` is a client of ``create_app`` on a fresh store
(httpx through Starlette's TestClient, so server errors fail the test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from prodml.client import Client
from prodml.ui.app import create_app


@pytest.fixture
def dashboard(sqlite_client: Client) -> Iterator[TestClient]:
    with TestClient(
        create_app(sqlite_client), base_url="http://ui.test", follow_redirects=False
    ) as client:
        yield client
