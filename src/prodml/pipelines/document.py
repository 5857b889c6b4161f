"""The pipeline document as a typed model (read by :mod:`prodml.pipelines.plan`)::

name: flights-delay
config:                  # one tree; each step takes its own slice
  features: {hours: true}
  train: {max_depth: 6, seed: 7}
steps:
  - {name: load, function: steps:load, inputs: {flights: flights@latest}}
  - {name: features, function: steps:features, inputs: {table: load}}
  - {name: train, function: steps:train, inputs: {table: features}}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from prodml.documents import Document, Name
from prodml.errors import InvalidInputError
from prodml.names import NAME_PATTERN, check_name

STEP_NAME = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
MAX_STORED = 200  # characters of a dataset name (<pipeline>-<step>)
FUNCTION = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"


def _matching(pattern: str, wanted: str) -> Callable[[str], str]:
    """A check that text matches ``pattern``, saying what to give when it does not."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.match(value) is None:
            raise ValueError(f"give {wanted}")
        return value

    return check


def _stored_name(value: str) -> str:
    """A name runs, datasets and models are stored under (checked here, not after a
    step has run)."""
    try:
        return check_name(value, "stored")
    except InvalidInputError as error:
        raise ValueError(str(error).partition(" is not valid: ")[2].rstrip(".")) from None


StoredName = Annotated[
    str,
    AfterValidator(_stored_name),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN}),
]
StepName = Annotated[
    str,
    AfterValidator(
        _matching(STEP_NAME, "1-64 letters, digits, '_' or '-', starting with a letter or '_'")
    ),
    WithJsonSchema({"type": "string", "pattern": STEP_NAME}),
]
Function = Annotated[
    str,
    AfterValidator(_matching(FUNCTION, "module:function, e.g. steps:train")),
    WithJsonSchema({"type": "string", "pattern": FUNCTION}),
]


_KEY_KINDS = {bool: "true or false", int: "a number", float: "a number", type(None): "null"}


def _text_keys(tree: dict[Any, Any], where: str) -> None:
    """Every key of the config tree is text: a step is given its slice by name, and
    the config is stored as JSON. YAML reads ``1:``, ``yes:`` or ``2013-03-15:`` as a
    number, a truth value or a date."""
    for key, value in tree.items():
        if not isinstance(key, str):
            kind = _KEY_KINDS.get(type(key), "a date" if hasattr(key, "isoformat") else "")
            shown = key.isoformat() if hasattr(key, "isoformat") else key
            shown = str(key).lower() if isinstance(key, bool) else shown
            shown = "null" if key is None else shown
            raise ValueError(
                f"holds the key {shown} ({kind or type(key).__name__}) in {where}, which "
                f"YAML did not read as text; config keys are text: quote it ('{shown}')"
            )
        if isinstance(value, dict):
            _text_keys(value, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    _text_keys(item, f"{where}.{key}[{index}]")


class LeakageDocument(Document):
    """Checks of a training step's inputs before it runs (hard findings stop the run)."""

    model_config = ConfigDict(title="Leakage")

    train: Name = Field(description="the input holding the training rows")
    valid: Name = Field(description="the input holding the validation rows")
    keys: list[Name] = Field([], description="columns identifying a row (an entity, an id)")
    time_column: Name | None = Field(None, description="the time of each row")
    known_after_label: list[Name] = Field(
        [], description="columns whose values are known only after the label"
    )
    label: Name | None = Field(None, description="the label column (never a feature)")
    max_overlap: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="share of validation keys allowed in the training rows"
    )


class StepDocument(Document):
    """One step: a Python function, its inputs, and the slice of the config it takes."""

    model_config = ConfigDict(title="Step")

    name: StepName = Field(description="unique within the pipeline; other steps' inputs name it")
    function: Function = Field(
        description="module:function, importable from the pipeline file's folder"
    )
    inputs: dict[StepName, Name] = Field(
        {},
        description="argument name -> a dataset version (NAME@VERSION) or another step's "
        "output (STEP, or STEP.OUTPUT for one of several)",
    )
    config: Name | None = Field(
        None, description="dotted path of the config slice it takes (default: its name)"
    )
    packages: list[Name] = Field(
        [], description="distributions whose versions belong to its cache key (scikit-learn)"
    )
    model: StoredName | None = Field(
        None, description="the name its model output is registered under (default: the pipeline)"
    )
    cache: bool = Field(True, description="false: run it every time")
    leakage: LeakageDocument | None = Field(None, description="checks before it runs")


class PipelineDocument(Document):
    """Steps in the order they may run; a step reads only earlier steps' outputs."""

    model_config = ConfigDict(title="Pipeline")

    name: StoredName = Field(description="the experiment its runs are recorded under")
    config: dict[str, Any] = Field({}, description="the config tree; overridden with -s KEY=VALUE")
    steps: Annotated[list[StepDocument], Field(min_length=1)] = Field(
        description="the steps, each after the steps whose outputs it takes"
    )

    @field_validator("config", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        if isinstance(value, dict):
            _text_keys(value, "config")
        return value if value is not None else {}

    @model_validator(mode="after")
    def _steps_in_order(self) -> PipelineDocument:
        seen: set[str] = set()
        for index, step in enumerate(self.steps):
            if step.name in seen:
                raise ValueError(f"steps[{index}].name {step.name!r} is used by an earlier step")
            for argument, source in step.inputs.items():
                if "@" in source:
                    continue
                upstream = source.split(".", 1)[0]
                if upstream not in seen:
                    known = ", ".join(sorted(seen)) or "none"
                    raise ValueError(
                        f"steps[{index}].inputs.{argument} is {source!r}, not an earlier step "
                        f"(earlier steps: {known}) nor a dataset version NAME@VERSION"
                    )
            _leakage_inputs(index, step)
            stored = len(self.name) + 1 + len(step.name)
            if stored > MAX_STORED:
                raise ValueError(
                    f"steps[{index}].name {step.name!r} makes the name its tables are stored "
                    f"under, {self.name[:20]!r}...-{step.name}, {stored} characters, over the "
                    f"{MAX_STORED} a name may have; shorten the pipeline's name or the step's"
                )
            seen.add(step.name)
        return self


def _leakage_inputs(index: int, step: StepDocument) -> None:
    """The leakage section names two of the step's inputs (checked before any step runs,
    not when the step is reached)."""
    if step.leakage is None:
        return
    inputs = ", ".join(step.inputs) or "none"
    for role in ("train", "valid"):
        argument = getattr(step.leakage, role)
        if argument not in step.inputs:
            raise ValueError(
                f"steps[{index}].leakage.{role} is {argument!r}, not one of the step's "
                f"inputs ({inputs}); name the input holding its {role} rows"
            )
    if step.leakage.train == step.leakage.valid:
        raise ValueError(
            f"steps[{index}].leakage names the same input {step.leakage.train!r} as train and "
            f"valid; name the input holding the training rows and the one holding the "
            f"validation rows (inputs: {inputs})"
        )
