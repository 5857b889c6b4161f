"""The code a step's outputs depend on, as one digest.

A step's part of its own module is the step function, every top-level statement
that is not a definition (imports, constants: a default argument may name one), and
the functions and classes it uses, transitively. Each project module the module
imports (a file under the project's folder, not an installed package) counts whole,
and so do the project modules those import. The project's folder is the nearest one
above the pipeline file holding .git, pyproject.toml, setup.py or setup.cfg (its
library may sit in src/, installed with pip install -e), else the pipeline's own.
Code is compared as syntax trees, so a changed comment or blank line does not rerun
a step; a changed default, helper or constant does."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from prodml.errors import InvalidInputError

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def code_digest(path: Path, module: str, name: str, root: Path) -> tuple[str, dict[str, Path]]:
    """The digest of what function ``name`` of ``module`` (in ``path``) runs, and the
    project modules it covers with their files. Read from the files: nothing is run."""
    digest = hashlib.sha256()
    digest.update(_own_part(path, name).encode())
    covered = dict(sorted(_project_imports(path, module, root).items()))
    for imported, module_path in covered.items():
        digest.update(f"\0{imported}\0{_tree(module_path)}".encode())
    return digest.hexdigest(), covered


def source_file(module: str, root: Path) -> Path | None:
    """The file of ``module``, looked for in ``root`` first, without running it."""
    local = _in_root(module, root)
    return local if local is not None else _locate(module)


def parse(path: Path) -> ast.Module:
    """The syntax tree of a step's module or a project module it imports (parsed once
    while the file is unchanged: a pipeline asks for a module once a step and once an
    import scan; the tree is read, never changed)."""
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size, stat.st_ino)


@lru_cache(maxsize=256)
def _parsed(path: Path, mtime_ns: int, size: int, inode: int) -> ast.Module:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as error:  # ValueError: a null byte in the file
        line = getattr(error, "lineno", None)
        where = f"{path}, line {line}" if line else str(path)
        problem = error.msg if isinstance(error, SyntaxError) else str(error)
        raise InvalidInputError(
            f"{where}: {problem}; Python cannot read the file. Fix it and run the pipeline again."
        ) from None


def _in_root(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _own_part(path: Path, name: str) -> str:
    tree = parse(path)
    definitions: dict[str, Definition] = {}
    kept: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, Definition):
            definitions[statement.name] = statement
        elif not _main_block(statement):  # a main block does not run when imported
            kept.append(statement)
    if name not in definitions:  # made at run time (a decorator's wrapper): the whole file
        return _tree(path)
    wanted, queue = set[str](), [name, *_names(kept)]  # TRANSFORMS = {"x": _one} counts _one
    while queue:
        current = queue.pop()
        if current in wanted or current not in definitions:
            continue
        wanted.add(current)
        queue += _names([definitions[current]])
    parts = [ast.dump(s) for s in kept] + [ast.dump(definitions[n]) for n in sorted(wanted)]
    return "\n".join(parts)


def _names(statements: list[ast.stmt]) -> list[str]:
    return [n.id for s in statements for n in ast.walk(s) if isinstance(n, ast.Name)]


def _main_block(statement: ast.stmt) -> bool:
    """``if __name__ == "__main__":``"""
    test = statement.test if isinstance(statement, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


@lru_cache(maxsize=256)
def _tree_of(path: Path, mtime_ns: int, size: int, inode: int) -> str:
    return hashlib.sha256(ast.dump(parse(path)).encode()).hexdigest()


def _tree(path: Path) -> str:
    stat = path.stat()
    return _tree_of(path, stat.st_mtime_ns, stat.st_size, stat.st_ino)


PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg")


def project_folder(root: Path) -> Path:
    """The folder of the project the pipeline folder ``root`` is part of."""
    resolved = root.resolve()
    for folder in (resolved, *resolved.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return resolved


def _project_imports(path: Path, module: str, root: Path) -> dict[str, Path]:
    """Every project module ``module`` imports, directly or through other project modules."""
    project = project_folder(root)
    found: dict[str, Path] = {}
    queue = [(path, module)]
    while queue:
        current, name = queue.pop()
        for imported in _imports(current, name):
            if imported in found or imported == module:
                continue
            imported_path = _in_root(imported, root) or _on_path(imported)
            if imported_path is not None and _in_project(imported_path, project):
                found[imported] = imported_path
                queue.append((imported_path, imported))
    return found


def _top_level(name: str) -> Path | None:
    """Where a top-level module or package lives; finding it runs nothing."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return _file(loaded)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _on_path(name: str) -> Path | None:
    """The file of ``name`` found from its top-level package's folder: asking Python
    for a submodule's spec would import (run) the package it is in."""
    head, _, rest = name.partition(".")
    top = _top_level(head)
    if top is None or not rest:
        return top
    return _in_root(rest, top.parent) if top.name == "__init__.py" else None


def _imports(path: Path, module: str) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            try:
                resolved = importlib.util.resolve_name(base, package) if node.level else base
            except ImportError:
                continue
            yield resolved
            yield from (f"{resolved}.{alias.name}" for alias in node.names)  # submodules


def _locate(name: str) -> Path | None:
    loaded = sys.modules.get(name)
    if loaded is not None:
        return _file(loaded)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _file(module: Any) -> Path | None:
    if module is None:
        return None
    try:
        found = inspect.getsourcefile(module)
    except TypeError:
        return None
    return Path(found).resolve() if found else None


def _in_project(path: Path, root: Path) -> bool:
    """A file under the project's folder that no installed package holds."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()) or "site-packages" in resolved.parts:
        return False
    prefixes = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return not any(resolved.is_relative_to(p) for p in prefixes)
