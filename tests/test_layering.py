"""Dependencies point one way: domain, then stores, then capabilities, then shells."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "prodml"
SHELL_LIBRARIES = {"typer", "rich", "click", "starlette", "fastapi", "uvicorn", "httpx", "jinja2"}
CLOUD_LIBRARIES = {"s3fs", "boto3", "botocore", "ray"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("domain"), ids=lambda p: p.name)
def test_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    allowed_prefixes = ("prodml.domain", "__future__")
    for name in _imports(path):
        top = name.split(".")[0]
        assert name.startswith(allowed_prefixes) or top in _stdlib(), f"{path.name} imports {name}"


@pytest.mark.parametrize(
    "path",
    [
        *_modules("domain"),
        *_modules("stores"),
        *_modules("data"),
        *_modules("track"),
        *_modules("lineage"),
        *_modules("evaluate"),
        *_modules("deploy"),
        *_modules("predictions"),
        *_modules("monitor"),
    ],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_core_imports_no_web_cli_or_cloud_library(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in SHELL_LIBRARIES | CLOUD_LIBRARIES, f"{path} imports {name}"
        assert name.split(".")[:2] != ["prodml", "cli"], f"{path} imports the CLI ({name})"


@pytest.mark.parametrize("path", _modules("stores"), ids=lambda p: p.name)
def test_stores_do_not_import_capability_packages(path: Path) -> None:
    for name in _imports(path):
        assert not name.startswith(
            ("prodml.data", "prodml.track", "prodml.lineage", "prodml.api", "prodml.client")
        ), f"{path} imports {name}"


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)


def test_no_module_is_past_400_lines() -> None:
    long = [str(p) for p in SRC.rglob("*.py") if len(p.read_text().splitlines()) > 400]
    assert not long
