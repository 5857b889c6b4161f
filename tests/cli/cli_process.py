"""The ``prodml`` command run as a user runs it: its own process on a store home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "prodml"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "prodml.cli.main"]


def run_prodml(home: Path, *args: str, columns: int = 1000) -> subprocess.CompletedProcess[str]:
    """Run ``prodml ARGS`` on the store at ``home`` (from its parent folder); no
    traceback or unexpected error may reach the user."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    result = subprocess.run(
        [*COMMAND, *args],
        env={**kept, "PRODML_HOME": str(home), "PRODML_USER": "dana", "COLUMNS": str(columns)},
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "Unexpected error" not in result.stderr, result.stderr
    return result
