"""Fixtures for gateway tests: a client whose prediction log flushes quickly, runs
started outside any git checkout, and the helper module importable by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prodml.client import Client


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def helpers_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Models of ``serving_helpers`` classes unpickle by the module's name."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


@pytest.fixture
def client(tmp_path: Path, metadata_url: str) -> Iterator[Client]:
    """A client on a fresh store (each database) whose prediction log flushes every 0.1 s."""
    made = _client(tmp_path, metadata_url=metadata_url, artifact_url=str(tmp_path / "blobs"))
    yield made
    made.close()


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[Client]:
    """The same on SQLite only, for what does not depend on the database."""
    made = _client(tmp_path)
    yield made
    made.close()


def _client(tmp_path: Path, **stores: str) -> Client:
    return Client(
        home=str(tmp_path / "home"), user="tester", flush_interval=0.05,
        log_flush_interval=0.1, auth="off", token="", **stores,
    )  # fmt: skip
