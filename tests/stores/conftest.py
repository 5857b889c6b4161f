"""Helpers for store tests: dataset records, the ``prodml`` command, and Python
processes that start their work at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from prodml.domain.dataset import ColumnSummary, DatasetKind, DatasetVersion
from prodml.domain.ids import utcnow
from prodml.stores.blobs import hash_bytes

PRODML = Path(sys.executable).with_name("prodml")

# Prepended to the code of every process started together: the code imports what it
# needs, then calls start_together() so that all processes begin their work at once.
_TOGETHER = """
import pathlib as _pathlib, sys as _sys, time as _time

def start_together():
    sync = _pathlib.Path(_sys.argv[1])
    (sync / f"ready-{_sys.argv[2]}").touch()
    while not (sync / "go").exists():
        _time.sleep(0.002)
"""


def clean_env(**settings: str) -> dict[str, str]:
    """The environment without inherited prodml settings, plus ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PRODML_")}
    env.update(settings, COLUMNS="200", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def make_dataset() -> Callable[..., DatasetVersion]:
    """A factory of unstored dataset versions whose id is the digest of ``content``."""

    def make(name: str, content: str, kind: DatasetKind = DatasetKind.TABLE) -> DatasetVersion:
        return DatasetVersion(
            id=hash_bytes(content.encode()),
            name=name,
            version=0,
            kind=kind,
            author="tester",
            created_at=utcnow(),
            num_rows=3 if kind is DatasetKind.TABLE else None,
            num_files=1,
            num_bytes=24,
            schema={"age": "int64"},
            columns=(
                ColumnSummary(
                    name="age", type="int64", nulls=0, distinct=3, min=1, max=3, mean=2.0
                ),
            ),
            key=("age",),
            source="ages.csv",
        )

    return make


@pytest.fixture
def prodml_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``prodml`` command in a temp folder with only the given settings."""

    def run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PRODML), *args],
            cwd=tmp_path,
            env=clean_env(**settings),
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture
def together(tmp_path: Path) -> Callable[..., list[subprocess.CompletedProcess[str]]]:
    """Run ``code`` in one process per argument list, all starting their work at once.

    Inside ``code``, ``sys.argv[3:]`` are that process's arguments."""

    def run(
        code: str, argvs: Sequence[Sequence[str]], timeout: float = 60, **settings: str
    ) -> list[subprocess.CompletedProcess[str]]:
        sync = tmp_path / f"sync-{time.monotonic_ns()}"
        sync.mkdir()
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _TOGETHER + code, str(sync), str(index), *argv],
                cwd=tmp_path,
                env=clean_env(**settings),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index, argv in enumerate(argvs)
        ]
        deadline = time.monotonic() + timeout
        while len(list(sync.glob("ready-*"))) < len(processes) and time.monotonic() < deadline:
            if any(process.poll() is not None for process in processes):
                break
            time.sleep(0.005)
        (sync / "go").touch()
        finished = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=max(deadline - time.monotonic(), 1))
            finished.append(
                subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            )
        return finished

    return run
