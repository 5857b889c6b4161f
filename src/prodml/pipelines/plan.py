"""A pipeline file read and checked before anything runs: the config with its
overrides, each step's function imported, its config slice and arguments matched
against the function's parameters, and the digest of the code it runs."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml import documents, yaml_text
from prodml.errors import InvalidInputError, echoed
from prodml.pipelines import code, config_types, signature
from prodml.pipelines.config import config_slice, override, texts
from prodml.pipelines.document import LeakageDocument, PipelineDocument, StepDocument

RUN_ARGUMENT = "run"  # a step that takes ``run`` gets its own active run
CONFIG_ARGUMENT = "config"  # a step that takes ``config`` gets its slice whole


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    target: str  # "module:function", imported only when the step runs
    inputs: dict[str, str]  # argument -> NAME@VERSION, STEP or STEP.OUTPUT
    config: dict[str, Any]
    config_path: str  # where its slice sits in the config tree
    packages: dict[str, str]  # distribution -> version
    model: str
    cache: bool
    leakage: LeakageDocument | None
    code: str  # digest of the code it runs
    sources: dict[str, Path]  # its module and the project modules it uses: their files
    annotations: dict[str, str]  # argument -> its annotation's text
    qualified: dict[str, str]  # the same with imported names in full (pandas.DataFrame)
    takes_run: bool

    def function(self) -> Callable[..., Any]:
        return signature.load(self.target, self.name, self.sources)

    def upstream(self) -> set[str]:
        return {s.split(".", 1)[0] for s in self.inputs.values() if "@" not in s}


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    name: str
    path: Path
    config: dict[str, Any]
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        known = ", ".join(s.name for s in self.steps)
        raise InvalidInputError(
            f"Pipeline {self.name!r} has no step {echoed(name)}; its steps: {known}."
        )

    def reading(self, key: str) -> set[str]:
        """The steps whose config slice holds the dotted config ``key``."""
        return {
            s.name
            for s in self.steps
            if key == s.config_path or key.startswith(s.config_path + ".")
        }

    def downstream(self, names: Iterable[str]) -> set[str]:
        """The steps named and every step that depends on them."""
        found = {self.step(name).name for name in names}
        for step in self.steps:
            if step.upstream() & found:
                found.add(step.name)
        return found


def load(
    path: str | Path, settings: Iterable[str] | str = (), config: Mapping[str, Any] | None = None
) -> Pipeline:
    """The pipeline in ``path`` with ``settings`` (``KEY=VALUE``) applied to its config,
    or ``config`` in place of the file's (a sweep's trial)."""
    if not isinstance(path, str | os.PathLike):
        raise InvalidInputError(
            f"The pipeline file is {path!r:.40}; give its path, e.g. 'pipeline.yaml'."
        )
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"No pipeline file at {file}. Check the path.")
    document = documents.check(
        PipelineDocument, yaml_text.read(file, "pipeline file"), f"Pipeline file {file}"
    )
    overrides = texts(settings, "overrides", "train.max_depth=8")
    tree = override(config if config is not None else document.config, overrides)
    root = file.resolve().parent
    if str(root) in sys.path:  # first, so its modules win over another pipeline's
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    steps = tuple(_step(document.name, spec, tree, root) for spec in document.steps)
    return Pipeline(name=document.name, path=file.resolve(), config=tree, steps=steps)


def _step(pipeline: str, spec: StepDocument, tree: dict[str, Any], root: Path) -> Step:
    module, _, name = spec.function.partition(":")
    path = code.source_file(module, root)
    if path is None:
        raise InvalidInputError(
            f"Step {spec.name!r}: no module {module!r} with a Python source file. Put "
            f"{module.replace('.', '/')}.py beside the pipeline file or on PYTHONPATH."
        )
    where = f"Step {spec.name!r} ({spec.function})"
    sliced = config_slice(tree, spec.config or spec.name, spec.name, spec.config is not None)
    parameters = signature.read(path, module, name, spec.name)
    _check_arguments(where, parameters, spec, sliced)
    if CONFIG_ARGUMENT not in parameters.names:  # a slice taken whole is the step's to read
        config_types.check(where, spec.config or spec.name, sliced, parameters.annotations)
    digest, covered = code.code_digest(path, module, name, root)
    return Step(
        name=spec.name,
        target=spec.function,
        inputs=dict(spec.inputs),
        config=sliced,
        config_path=spec.config or spec.name,
        packages={name: _version(name, where) for name in spec.packages},
        model=spec.model or pipeline,
        cache=spec.cache,
        leakage=spec.leakage,
        code=digest,
        sources={module: path, **covered},
        annotations=parameters.annotations,
        qualified=signature.qualified(path, parameters.annotations),
        takes_run=RUN_ARGUMENT in parameters.names,
    )


def arguments(step: Step, inputs: dict[str, Any], run: Any) -> dict[str, Any]:
    """The keyword arguments a step's function is called with."""
    given = dict(inputs)
    if CONFIG_ARGUMENT in step.annotations:
        given[CONFIG_ARGUMENT] = dict(step.config)
    else:
        given.update(step.config)
    if step.takes_run:
        given[RUN_ARGUMENT] = run
    return given


def _check_arguments(
    where: str, parameters: signature.Parameters, spec: StepDocument, sliced: dict[str, Any]
) -> None:
    if parameters.positional_only:
        only = ", ".join(sorted(parameters.positional_only))
        raise InvalidInputError(
            f"{where} takes {only} by position only (before '/'); a step is given its "
            "inputs and config by name. Remove the '/' from the function's parameters."
        )
    for reserved, what in ((RUN_ARGUMENT, "its own run"), (CONFIG_ARGUMENT, "its config slice")):
        if reserved in parameters.names and reserved in spec.inputs:  # the input would be lost
            raise InvalidInputError(
                f"{where} takes {reserved!r}, which a step is given {what} by, and its inputs "
                f"name one {reserved!r} too. Rename the input (and the parameter that takes it)."
            )
    spread = set() if CONFIG_ARGUMENT in parameters.names else set(sliced)
    run = {RUN_ARGUMENT} if RUN_ARGUMENT in parameters.names else set()
    for key in sorted(spread & (set(spec.inputs) | run)):  # one would hide the other
        raise InvalidInputError(
            f"{where} is given {key} both {'as an input' if key in spec.inputs else 'as its run'} "
            f"and from its config slice ({spec.config or spec.name}.{key} = "
            f"{sliced[key]!r:.40}). Rename the config key or the input."
        )
    if not parameters.flexible:
        extra = sorted((set(spec.inputs) | spread) - set(parameters.names))
        if extra:
            takes = ", ".join(parameters.names) or "no argument by name"
            if parameters.variadic:
                takes += (
                    f" (*{parameters.variadic} takes values by position, which a step is "
                    "never given: name a parameter for each input and config key)"
                )
            raise InvalidInputError(
                f"{where} is given {', '.join(extra)} (from its inputs or its config slice "
                f"{spec.config or spec.name!r}), which the function does not take; it takes: "
                f"{takes}. Fix the name in the pipeline file."
            )
    offered = set(spec.inputs) | spread | {RUN_ARGUMENT, CONFIG_ARGUMENT}
    missing = sorted(parameters.required - offered)
    if missing:
        raise InvalidInputError(
            f"{where} needs {', '.join(missing)}, which neither its inputs nor its config "
            f"slice {spec.config or spec.name!r} give. Add them to the pipeline file."
        )


def _version(distribution: str, where: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise InvalidInputError(
            f"{where} names the package {distribution!r}, which is not installed here. "
            "Install it or fix its name (the name pip knows it by)."
        ) from None
