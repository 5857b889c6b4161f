"""Throwaway virtual environments holding the tools prodml is measured against.

An anchor is a third-party tool (MLflow, DVC, ...) installed with pip into its
own venv under a cache folder, so its dependencies never touch the project's
environment. The venv is built once and reused by later runs::

    mlflow = ensure_anchor("mlflow")
    print(mlflow.version)                       # "3.1.0"
    print(mlflow.run_python("import mlflow; print(mlflow.__file__)"))
    mlflow.run_command(["mlflow", "--version"])  # scripts in the venv's bin/

The cache folder is ``$PRODML_BENCH_CACHE`` or ``~/.cache/prodml-bench``; each
anchor lives in ``<cache>/<name>``. Delete that folder to force a fresh install.

Run as a script to build anchors ahead of time::

    .venv/bin/python benchmarks/_anchor.py mlflow dvc "evidently=evidently pandas<3 pyarrow"

A spec may name several requirements separated by spaces (split like a shell
would); the first one is the anchor's own package, whose version is recorded.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import venv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

READY_MARKER = ".prodml-bench-ready"


def cache_root() -> Path:
    configured = os.environ.get("PRODML_BENCH_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "prodml-bench"


def distribution_name(spec: str) -> str:
    """The project name in a pip spec: ``"dvc[s3]>=3"`` gives ``"dvc"``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    if match is None:
        raise ValueError(f"Cannot read a package name from pip spec {spec!r}")
    return match.group(1)


@dataclass(frozen=True)
class Anchor:
    name: str
    spec: str
    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin_dir / ("python.exe" if os.name == "nt" else "python")

    @property
    def version(self) -> str:
        """The installed version of the anchor's package, as ``pip show`` reports it."""
        version_file = self.root / READY_MARKER
        recorded = version_file.read_text().strip() if version_file.exists() else ""
        return recorded or _pip_show_version(self.python, distribution_name(self.spec))

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["VIRTUAL_ENV"] = str(self.root)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra or {})
        return env

    def run_command(
        self,
        args: Sequence[str],
        *,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Run a command with the venv's bin/ first on PATH; return its stdout."""
        completed = subprocess.run(
            list(args),
            cwd=cwd,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0:
            raise AnchorError(
                f"{self.name}: {' '.join(args)} exited with {completed.returncode}\n"
                f"{completed.stderr[-4000:]}"
            )
        return completed.stdout

    def run_python(
        self,
        code: str,
        args: Sequence[str] = (),
        *,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Run a Python snippet (``sys.argv[1:]`` = args) in the venv; return its stdout."""
        command = [str(self.python), "-c", code, *args]
        return self.run_command(command, cwd=cwd, env=env, timeout=timeout)


class AnchorError(RuntimeError):
    pass


def ensure_anchor(name: str, spec: str | None = None, *, quiet: bool = False) -> Anchor:
    """The anchor venv ``<cache>/<name>``, created with ``pip install spec`` if missing."""
    anchor = Anchor(name=name, spec=spec or name, root=cache_root() / name)
    marker = anchor.root / READY_MARKER
    if marker.exists():
        return anchor
    if not quiet:
        print(f"[anchor] installing {anchor.spec!r} into {anchor.root} (once) ...", flush=True)
    anchor.root.parent.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(anchor.root)
    pip = [str(anchor.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _check_call([*pip, "--upgrade", "pip"])
    _check_call([*pip, *shlex.split(anchor.spec)])
    marker.write_text(_pip_show_version(anchor.python, distribution_name(anchor.spec)) + "\n")
    return anchor


def _check_call(args: Sequence[str]) -> None:
    completed = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise AnchorError(
            f"{' '.join(args)} exited with {completed.returncode}\n{completed.stderr}"
        )


def _pip_show_version(python: Path, distribution: str) -> str:
    completed = subprocess.run(
        [str(python), "-m", "pip", "show", "--disable-pip-version-check", distribution],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("Version:"):
            return line.partition(":")[2].strip()
    return "unknown"


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: _anchor.py NAME[=PIP_SPEC] ...", file=sys.stderr)
        return 2
    for item in argv:
        name, _, spec = item.partition("=")
        anchor = ensure_anchor(name, spec or None)
        print(f"{anchor.name} {anchor.version} at {anchor.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
