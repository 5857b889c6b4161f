"""Fixtures for evaluation tests: runs started outside any git checkout, and the
helper module (metric functions, a model class) importable by name."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started by these tests capture no code diff of whatever checkout they run in."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def helpers_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Suites name ``evaluation_helpers:FUNCTION``; models of its classes unpickle."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
