"""Fixtures for tracking tests: a Python subprocess that uses the test client's store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from prodml.client import Client

RunScript = Callable[..., subprocess.CompletedProcess[str]]


def store_environment(client: Client) -> dict[str, str]:
    """Environment variables that point a new process at the client's store."""
    settings = client.settings
    return {
        **os.environ,
        "PRODML_HOME": settings.home,
        "PRODML_METADATA_URL": settings.metadata_url,
        "PRODML_ARTIFACT_URL": settings.artifact_url,
        "PRODML_USER": settings.user,
        "PRODML_FLUSH_INTERVAL": "60",  # only the durability points store anything
    }


@pytest.fixture
def run_script(tmp_path: Path) -> RunScript:
    """``run_script(client, code, cwd=None)``: run Python code in a new process on
    the client's store and return the finished process."""

    def run(client: Client, code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code],
            env=store_environment(client),
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started by these tests capture no code diff of whatever checkout they run in."""
    monkeypatch.chdir(tmp_path)
