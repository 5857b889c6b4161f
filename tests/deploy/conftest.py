"""Fixtures for registry and serving tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started by these tests capture no code diff of whatever checkout they run in."""
    monkeypatch.chdir(tmp_path)
