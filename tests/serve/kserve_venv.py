"""KServe's Python client (kserve 0.21) in a virtual environment of its own, built
once under a cache folder and reused by later test sessions.

kserve cannot join the dev extras: it pins pandas below 3 and brings in the
Kubernetes client, grpcio and FastAPI. So its client runs in a separate interpreter,
``<cache>/kserve-0.21/bin/python``, where ``<cache>`` is ``$PRODML_TEST_CACHE`` or
``~/.cache/prodml-test``. A marker file written after a successful install says the
venv is complete; delete the folder to force a fresh install. A file lock keeps two
pytest-xdist workers from installing at the same time: the second waits, then
reuses what the first built."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

SERIES = "0.21"
SPEC = "kserve>=0.21,<0.22"
MARKER = ".prodml-test-ready"  # holds the installed kserve version
INSTALL_TIMEOUT = 900.0  # seconds for one step; an install takes about 75 s
LOCK_TIMEOUT = 1800.0  # another worker's install, waited for


class KServeUnavailable(RuntimeError):
    """kserve could not be installed (no network, no index, a failing build)."""


def cache_root() -> Path:
    configured = os.environ.get("PRODML_TEST_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "prodml-test"


def venv_folder() -> Path:
    return cache_root() / f"kserve-{SERIES}"


def python_of(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def installed_version(folder: Path) -> str | None:
    """The kserve version a complete venv at ``folder`` holds; None when incomplete."""
    marker = folder / MARKER
    if not marker.is_file() or not python_of(folder).exists():
        return None
    return marker.read_text().strip() or None


def ensure_kserve() -> Path:
    """The Python interpreter of the kserve venv, installed first when missing.

    Raises KServeUnavailable when the install fails."""
    folder = venv_folder()
    if installed_version(folder) is None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with _locked(folder.with_name(folder.name + ".lock")):
            if installed_version(folder) is None:  # no other worker built it meanwhile
                _install(folder)
    return python_of(folder)


def clean_environment() -> dict[str, str]:
    """This process's environment without what would point the venv's Python at the
    project's packages."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


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
        raise KServeUnavailable(f"another install held {path} for {LOCK_TIMEOUT:.0f} s") from error


def _install(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # what a failed install left behind
    python = str(python_of(folder))
    _run([sys.executable, "-m", "venv", str(folder)])
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SPEC])
    version = _run([python, "-c", "import importlib.metadata as m; print(m.version('kserve'))"])
    (folder / MARKER).write_text(version.strip() + "\n")


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
        raise KServeUnavailable(f"{' '.join(command)}: {error}") from error
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()
        raise KServeUnavailable(
            f"{' '.join(command)} exited with {completed.returncode}:\n{output[-3000:]}"
        )
    return completed.stdout
