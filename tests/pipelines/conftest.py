"""Fixtures for pipeline tests: a project folder in tmp_path where a test writes a
pipeline file and its step modules as files, and a small table logged as a dataset."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_project import Project


@pytest.fixture(autouse=True)
def _fresh_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runs start outside any git checkout (no code diff is captured); the modules a
    test's pipeline imported and its folder on sys.path are gone after it."""
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    yield
    sys.path[:] = path_before
    folders = (str(tmp_path), str(tmp_path.resolve()))
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.startswith(folders):
            del sys.modules[name]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    folder = tmp_path / "project"
    folder.mkdir()
    return Project(folder)
