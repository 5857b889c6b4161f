"""Virtual environments of their own for tools the dev venv cannot hold (KServe's client
pins pandas below 3; MLflow's full server brings Flask, alembic and a UI), built once
under a cache folder and reused by later test sessions.

Each lives in ``<cache>/<name>``, where ``<cache>`` is ``$PRODML_TEST_CACHE`` or
``~/.cache/prodml-test``. A marker file written after a successful install (holding the
installed version) says the venv is complete; delete the folder to force a fresh
install. A file lock keeps two pytest-xdist workers from installing at the same time:
the second waits, then reuses what the first built."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = ".prodml-test-ready"  # holds the installed version
INSTALL_TIMEOUT = 900.0  # seconds for one step
LOCK_TIMEOUT = 1800.0  # another worker's install, waited for


class VenvUnavailable(RuntimeError):
    """The venv could not be installed (no network, no index, a failing build)."""


def cache_root() -> Path:
    configured = os.environ.get("PRODML_TEST_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "prodml-test"


def python_of(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def script_of(folder: Path, name: str) -> Path:
    """A console script the venv installed (``mlflow``, ...)."""
    return folder / ("Scripts" if os.name == "nt" else "bin") / name


def clean_environment() -> dict[str, str]:
    """This process's environment without what would point the venv's Python at the
    project's packages."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class ThrowawayVenv:
    """A venv named ``name`` under the cache holding ``requirements`` (pip's arguments),
    or where pip cannot install them, the first of ``fallbacks`` it can; its marker
    records the version of ``distribution`` installed."""

    name: str
    requirements: tuple[str, ...]
    distribution: str
    fallbacks: tuple[tuple[str, ...], ...] = ()

    @property
    def folder(self) -> Path:
        return cache_root() / self.name

    @property
    def python(self) -> Path:
        return python_of(self.folder)

    def installed_version(self) -> str | None:
        """The version a complete venv holds; None when it is incomplete."""
        marker = self.folder / MARKER
        if not marker.is_file() or not self.python.exists():
            return None
        return marker.read_text().strip() or None

    def ensure(self) -> Path:
        """The venv's Python interpreter, installed first when missing.

        Raises VenvUnavailable when the install fails."""
        folder = self.folder
        if self.installed_version() is None:
            folder.parent.mkdir(parents=True, exist_ok=True)
            with _locked(folder.with_name(folder.name + ".lock")):
                if self.installed_version() is None:  # no other worker built it meanwhile
                    self._install()
        return self.python

    def _install(self) -> None:
        failures = []
        for requirements in (self.requirements, *self.fallbacks):
            try:
                self._install_one(requirements)
                return
            except VenvUnavailable as error:
                failures.append(str(error))
        raise VenvUnavailable("\n".join(failures))

    def _install_one(self, requirements: tuple[str, ...]) -> None:
        folder = self.folder
        shutil.rmtree(folder, ignore_errors=True)  # what a failed install left behind
        python = str(python_of(folder))
        _run([sys.executable, "-m", "venv", str(folder)])
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, *requirements])
        version = _run(
            [
                python,
                "-c",
                "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))",
                self.distribution,
            ]
        )
        (folder / MARKER).write_text(version.strip() + "\n")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import filelock
    except ImportError:
        import fcntl

        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    try:
        with filelock.FileLock(str(path), timeout=LOCK_TIMEOUT):
            yield
    except filelock.Timeout as error:
        raise VenvUnavailable(f"another install held {path} for {LOCK_TIMEOUT:.0f} s") from error


def _run(command: Sequence[str]) -> str:
    try:
        completed = subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            env=clean_environment(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise VenvUnavailable(f"{' '.join(command)}: {error}") from error
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()
        raise VenvUnavailable(
            f"{' '.join(command)} exited with {completed.returncode}:\n{output[-3000:]}"
        )
    return completed.stdout
