"""A step function's parameters read from its source file, so that a pipeline whose
steps are all cached never imports them (a step module often imports a training
library that takes longer to load than the rest of the run)."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml.errors import InvalidInputError
from prodml.pipelines import code


@dataclass(frozen=True)
class Parameters:
    names: tuple[str, ...]
    required: frozenset[str]  # without a default
    annotations: dict[str, str]  # name -> the annotation as written
    flexible: bool  # takes **kwargs
    positional_only: frozenset[str] = frozenset()  # before ``/`` without a default
    variadic: str | None = None  # the name of ``*args``, which a step is never given


def read(path: Path, module: str, name: str, step: str) -> Parameters:
    """The parameters of ``name`` in ``path``; a function the file does not define with
    ``def`` (made by a decorator or assigned) is imported and inspected instead."""
    for node in code.parse(path).body:
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            raise InvalidInputError(
                f"Step {step!r}: {module}:{name} is an async function, which a step cannot "
                "be (prodml calls steps and stores what they return). Make it a plain def."
            )
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return _from_tree(node.args)
    return _from_object(load(f"{module}:{name}", step))


_imported: dict[str, tuple[Path, int, int]] = {}  # project module -> its file, mtime, size


def load(target: str, step: str, sources: dict[str, Path] | None = None) -> Callable[..., Any]:
    """The function ``module:name``, imported again where its file (or the file of a
    project module it uses, in ``sources``) changed since this process imported it."""
    module_name, _, name = target.partition(":")
    stamps = {module_of: _stamp(path) for module_of, path in (sources or {}).items()}
    changed = [stamp[0] for m, stamp in stamps.items() if _imported.get(m, stamp) != stamp]
    if changed:
        _forget(set(_imported) | set(stamps), changed)
    for module_of in set(stamps) - set(_imported):  # imported by someone else: from its file
        sys.modules.pop(module_of, None)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # any error importing the user's module is theirs to fix
        raise InvalidInputError(
            f"Step {step!r}: importing {module_name!r} failed: {type(error).__name__}: "
            f"{error}. Fix the module (or install what it imports) and run again."
        ) from None
    _imported.update(stamps)
    function = getattr(module, name, None)
    if not callable(function):
        defined = sorted(
            n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")
        )
        raise InvalidInputError(
            f"Step {step!r}: module {module_name!r} has no function {name!r} (its functions: "
            f"{', '.join(defined) or 'none'}). Fix the step's function: in the pipeline file."
        )
    return function  # type: ignore[no-any-return]


def _forget(modules: set[str], changed: list[Path]) -> None:
    """Drop every project module this process imported, as a new process would not
    have them: a module that did not change still holds what it took from one that
    did (``from helpers import offset``). The bytecode cached for a changed file goes
    too: it records the file's time in whole seconds, so an edit of the same size
    within that second would be read as the old code."""
    for module_of in modules:
        sys.modules.pop(module_of, None)
    for path in changed:
        with contextlib.suppress(OSError, ValueError):
            Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)


def _stamp(path: Path) -> tuple[Path, int, int]:
    stat = path.stat()
    return path, stat.st_mtime_ns, stat.st_size


def qualified(path: Path, annotations: dict[str, str]) -> dict[str, str]:
    """``annotations`` with each name the module at ``path`` imported written as what it
    imported: ``DataFrame`` after ``from pandas import DataFrame`` is
    ``pandas.DataFrame``, ``pd.DataFrame`` after ``import pandas as pd`` too."""
    names: dict[str, str] = {}
    for node in ast.walk(code.parse(path)):
        if isinstance(node, ast.Import):
            names.update({a.asname: a.name for a in node.names if a.asname})
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return {argument: _qualify(text, names) for argument, text in annotations.items()}


def _qualify(text: str, names: dict[str, str]) -> str:
    try:  # a quoted annotation ("pd.DataFrame") is read inside its quotes
        tree = ast.parse(text.strip().strip("'\""), mode="eval")
    except SyntaxError:  # not Python (the text of a class: <class 'pandas...'>)
        return text

    class Qualify(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            full = names.get(node.id)
            if full is None:
                return node
            return ast.copy_location(ast.parse(full, mode="eval").body, node)

    return ast.unparse(Qualify().visit(tree))


def _from_tree(arguments: ast.arguments) -> Parameters:
    positional = [*arguments.posonlyargs, *arguments.args]
    with_default = {a.arg for a in positional[len(positional) - len(arguments.defaults) :]}
    with_default |= {
        a.arg for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d
    }
    named = [a for a in [*arguments.args, *arguments.kwonlyargs]]
    return Parameters(
        names=tuple(a.arg for a in named),
        required=frozenset(a.arg for a in named if a.arg not in with_default),
        annotations={a.arg: ast.unparse(a.annotation) if a.annotation else "" for a in named},
        flexible=arguments.kwarg is not None,
        positional_only=frozenset(
            a.arg for a in arguments.posonlyargs if a.arg not in with_default
        ),
        variadic=arguments.vararg.arg if arguments.vararg else None,
    )


def _from_object(function: Callable[..., Any]) -> Parameters:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    found = inspect.signature(function).parameters
    named = [p for p in found.values() if p.kind in kinds]
    return Parameters(
        names=tuple(p.name for p in named),
        required=frozenset(p.name for p in named if p.default is inspect.Parameter.empty),
        annotations={p.name: str(p.annotation) for p in named},
        flexible=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in found.values()),
        positional_only=frozenset(
            p.name
            for p in found.values()
            if p.kind is inspect.Parameter.POSITIONAL_ONLY and p.default is inspect.Parameter.empty
        ),
        variadic=next(
            (p.name for p in found.values() if p.kind is inspect.Parameter.VAR_POSITIONAL), None
        ),
    )
