"""The public SDK: fast to import, and tracking alone loads no table library."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import prodml


def test_every_public_name_resolves() -> None:
    for name in prodml.__all__:
        assert getattr(prodml, name) is not None, name
    assert prodml.__all__ == sorted(prodml.__all__)


def test_the_type_checkers_imports_repeat_the_table_of_public_names() -> None:
    tree = ast.parse(Path(prodml.__file__).read_text())
    blocks = [node for node in tree.body if isinstance(node, ast.If)]
    (block,) = [node for node in blocks if ast.unparse(node.test) == "TYPE_CHECKING"]
    imported = {
        alias.asname or alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == prodml._HOMES
    assert prodml._HOMES["compact_predictions"] == "prodml.sdk.predictions"
    hosts = {prodml._HOMES[name] for name in ("hosts", "leases", "routing_version")}
    assert hosts == {"prodml.sdk.hosts"}


def test_a_script_that_only_tracks_loads_no_table_library(tmp_path: Path) -> None:
    code = (
        "import sys, prodml\n"
        "with prodml.start_run('light', config={'a': 1}) as run:\n"
        "    run.log_metric('loss', 0.5)\n"
        "print(sorted({'pyarrow', 'duckdb', 'pandas', 'polars'} & set(sys.modules)))\n"
    )
    env = {**os.environ, "PRODML_HOME": str(tmp_path / ".prodml")}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
