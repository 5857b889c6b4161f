"""Save a PNG of each dashboard page, on the test suite's seeded store, to
docs/screenshots/: the browser tests that open every page run with
``PRODML_SCREENSHOTS=1``.

    .venv/bin/python docs/screenshots.py

Needs the dev extras (Playwright) and a Chromium binary (Debian: ``apt-get install
chromium``, or ``PRODML_CHROMIUM=/path/to/chrome``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    tests = "tests/ui/browser/test_dashboard_browser.py"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        tests,
        "-k",
        "renders",
    ]
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "PRODML_SCREENSHOTS": "1"})
    shots = sorted((ROOT / "docs" / "screenshots").glob("*.png"))
    print(f"{len(shots)} screenshots in docs/screenshots/")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
