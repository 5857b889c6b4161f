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


# Lowest first. A module imports only from its own level or below, at module top and
# inside functions alike. The client (the open stores) sits just above the stores;
# the shells (serve, ui, cli) read and change the store only through the SDK.
ORDER = [
    [
        "domain",
        "documents",
        "errors",
        "names",
        "settings",
        "sql_text",
        "stops",
        "times",
        "yaml_text",
    ],
    ["stores"],
    ["client"],
    ["data"],
    ["track"],
    ["predictions"],
    ["predict"],
    ["evaluate"],
    ["deploy"],
    ["pipelines"],
    ["monitor"],
    ["lineage"],
    ["interop"],
    ["sdk"],
    ["serve", "ui", "cli"],
]
LEVEL = {unit: level for level, units in enumerate(ORDER) for unit in units}
SHELL_MAY_USE = {"sdk", "client", *ORDER[0]}  # the SDK, its Client, records and errors
CORE = {unit for units in ORDER[: LEVEL["sdk"]] for unit in units}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "prodml" and len(parts) > 1 else None


def _own_unit(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _every_import(path: Path) -> list[tuple[int, str]]:
    """Each prodml import with its line, relative ones resolved, inside functions too."""
    package = ["prodml", *path.relative_to(SRC).parent.parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("prodml.")]


# A data migration converts stored documents with the reader that read them before.
DATA_MIGRATIONS = {
    ("stores/migrations/versions/0010_resolved_plans.py", "prodml.deploy"),
    ("stores/migrations/versions/0010_resolved_plans.py", "prodml.deploy.plan"),
}

ALL_MODULES = [p for p in sorted(SRC.rglob("*.py")) if p.name != "__init__.py" or p.parent != SRC]


def test_every_package_has_a_place_in_the_order() -> None:
    units = {_own_unit(p) for p in ALL_MODULES}
    assert units <= set(LEVEL), f"not in ORDER: {sorted(units - set(LEVEL))}"


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down_the_order(path: Path) -> None:
    me = _own_unit(path)
    for line, name in _every_import(path):
        unit = _unit(name)
        if unit is None or unit not in LEVEL or unit == me:
            continue
        if (str(path.relative_to(SRC)), name) in DATA_MIGRATIONS:
            continue
        same_base = LEVEL[unit] == LEVEL[me] == 0
        shell_starts_shell = unit in ORDER[-1] and me in ORDER[-1]  # `prodml serve`, `prodml ui`
        assert LEVEL[unit] < LEVEL[me] or same_base or shell_starts_shell, (
            f"{path.relative_to(SRC)}:{line} imports {name}, which is not below {me}"
        )
        if me in ORDER[-1]:
            assert unit in SHELL_MAY_USE or shell_starts_shell or me == "serve", (
                f"{path.relative_to(SRC)}:{line}: a shell reaches past the SDK into {name}"
            )


def test_no_two_modules_import_each_other() -> None:
    graph: dict[str, set[str]] = {}
    for path in ALL_MODULES:
        module = "prodml." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        graph[module.removesuffix(".__init__")] = {name for _, name in _every_import(path)}
    cycles = sorted(
        f"{a} <-> {b}"
        for a, targets in graph.items()
        for b in targets
        if a < b and b in graph and a in graph[b]
    )
    assert not cycles


@pytest.mark.parametrize(
    "path", [p for p in ALL_MODULES if _own_unit(p) in CORE], ids=lambda p: str(p.relative_to(SRC))
)
def test_core_imports_no_web_cli_or_cloud_library(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if "remote_blobs" in path.name:
            continue
        assert top not in SHELL_LIBRARIES | CLOUD_LIBRARIES, f"{path} imports {name}"


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)


def test_no_module_is_past_400_lines() -> None:
    long = [str(p) for p in SRC.rglob("*.py") if len(p.read_text().splitlines()) > 400]
    assert not long


SHELL_MODULES = [p for p in ALL_MODULES if _own_unit(p) in ("cli", "ui")]


@pytest.mark.parametrize("path", SHELL_MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_shells_never_touch_the_stores_directly(path: Path) -> None:
    """``client.metadata`` and ``client.artifacts`` are the SDK's to use: a shell that
    reads them would show what no notebook or other shell can."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("metadata", "artifacts"):
            raise AssertionError(
                f"{path.relative_to(SRC)}:{node.lineno} reads .{node.attr}; "
                "add an SDK function for it instead"
            )
