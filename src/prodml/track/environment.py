"""What a run captures about where it ran: Python, packages, host and code state.

The code state (git commit and the diff of uncommitted changes) is read once per
process and working directory: it describes the code this process loaded.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

KEY_PACKAGES = (
    "prodml",
    "numpy",
    "scipy",
    "pandas",
    "polars",
    "pyarrow",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "catboost",
    "torch",
    "tensorflow",
    "jax",
)


@dataclass(frozen=True)
class CodeState:
    commit: str | None
    branch: str | None
    diff: bytes
    untracked: tuple[str, ...]
    root: str | None


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _environment(pid: int) -> dict[str, Any]:
    """Read once per process (a forked child records its own pid)."""
    packages = {name: package_version(name) for name in KEY_PACKAGES}
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "pid": pid,
        "argv": sys.argv[:8],
        "packages": {name: version for name, version in packages.items() if version},
    }


def run_environment() -> tuple[dict[str, Any], CodeState]:
    """What a starting run records about where it runs: the environment with its git
    state, and the code state; one shared (read-only) answer per process and folder."""
    return _run_environment(os.getpid(), os.getcwd())


@functools.cache
def _run_environment(pid: int, cwd: str) -> tuple[dict[str, Any], CodeState]:
    code = _code_state(cwd)
    git = {
        "commit": code.commit,
        "branch": code.branch,
        "root": code.root,
        "dirty": bool(code.diff or code.untracked),
        "untracked": list(code.untracked),
    }
    return {**_environment(pid), "git": git}, code


def _git(args: list[str], cwd: str) -> bytes | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


@functools.cache
def _code_state(cwd: str) -> CodeState:
    root = _git(["rev-parse", "--show-toplevel"], cwd)
    if root is None:
        return CodeState(None, None, b"", (), None)
    commit = _git(["rev-parse", "HEAD"], cwd)
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
    diff = _git(["diff", "HEAD", "--no-color", "--no-ext-diff"], cwd) or b""
    untracked = _git(["ls-files", "--others", "--exclude-standard"], cwd) or b""
    return CodeState(
        commit=commit.decode().strip() if commit else None,
        branch=branch.decode().strip() if branch else None,
        diff=diff,
        untracked=tuple(untracked.decode(errors="replace").splitlines()[:200]),
        root=root.decode().strip(),
    )
