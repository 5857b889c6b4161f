"""KServe's Python client (kserve 0.21) in a virtual environment of its own, built
once under a cache folder and reused by later test sessions.

kserve cannot join the dev extras: it pins pandas below 3 and brings in the
Kubernetes client, grpcio and FastAPI. So its client runs in a separate interpreter,
``<cache>/kserve-0.21/bin/python``, where ``<cache>`` is ``$PRODML_TEST_CACHE`` or
``~/.cache/prodml-test``. A marker file written after a successful install says the
venv is complete; delete the folder to force a fresh install. A file lock keeps two
pytest-xdist workers from installing at the same time: the second waits, then
reuses what the first built (see ``throwaway_venv.py``)."""

from __future__ import annotations

from pathlib import Path

from throwaway_venv import (
    MARKER,
    ThrowawayVenv,
    VenvUnavailable,
    cache_root,
    clean_environment,
    python_of,
)

SERIES = "0.21"
SPEC = "kserve>=0.21,<0.22"
VENV = ThrowawayVenv(name=f"kserve-{SERIES}", requirements=(SPEC,), distribution="kserve")

# kserve could not be installed (no network, no index, a failing build)
KServeUnavailable = VenvUnavailable

__all__ = [
    "MARKER",
    "SERIES",
    "SPEC",
    "KServeUnavailable",
    "cache_root",
    "clean_environment",
    "ensure_kserve",
    "installed_version",
    "python_of",
    "venv_folder",
]


def venv_folder() -> Path:
    return VENV.folder


def installed_version(folder: Path) -> str | None:
    """The kserve version a complete venv at ``folder`` holds; None when incomplete."""
    marker = folder / MARKER
    if not marker.is_file() or not python_of(folder).exists():
        return None
    return marker.read_text().strip() or None


def ensure_kserve() -> Path:
    """The Python interpreter of the kserve venv, installed first when missing.

    Raises KServeUnavailable when the install fails."""
    return VENV.ensure()
