"""Logging content a name already holds makes no new version, and prodml datasets log
says so: the same as the latest (unchanged), or the same as an older version, which
NAME@latest then does not name (steps reading NAME@latest would not see it)."""

from __future__ import annotations

import time
from pathlib import Path

from cli_process import run_prodml


def _log(home: Path, path: Path) -> str:
    result = run_prodml(home, "datasets", "log", "t", str(path))
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


def test_old_content_logged_again_is_named_as_stored_before_and_latest_unmoved(
    tmp_path: Path,
) -> None:
    home = tmp_path / ".prodml"
    first, second = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_text("a,b\n1,2\n")
    second.write_text("a,b\n1,3\n")

    assert "Stored before" not in _log(home, first)
    assert "Stored before" not in _log(home, second)
    time.sleep(1.1)  # stored times may be whole seconds
    again = _log(home, first)
    same = _log(home, second)

    assert again.startswith("t@1 [")
    assert "Stored before as t@1: t@latest is still t@2" in again
    assert "Unchanged: the same content as t@2, the latest." in same
    listed = run_prodml(home, "datasets", "list", "t", "--json").stdout
    assert listed.count('"version"') == 2  # no version was added
