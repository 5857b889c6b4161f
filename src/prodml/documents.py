"""The one reader of the YAML documents users write: each kind is a pydantic model,
read strictly (a number is never text, an unknown key is refused), and every problem
is reported on one line naming the document, the field path and what is expected::

    Rollout plan has 2 problems:
      stages[0].min_requests is 0; give a whole number >= 1.
      stages[1].colour is not a known field; known: criteria, max_duration, ...

``prodml schema KIND`` prints each kind's JSON Schema so that editors check the files
as they are typed. This module imports pydantic: import it where a document is read,
never at start-up. The models live beside the parsers that turn them into the records
the rest of prodml uses; ``KINDS`` names them here, by module, so this base module
depends on none of them."""

from __future__ import annotations

import importlib
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails

from prodml import yaml_text
from prodml.errors import InvalidInputError

DRAFT = "https://json-schema.org/draft/2020-12/schema"
KINDS: dict[str, str] = {
    "checks": "prodml.data.checks_document:ChecksDocument",
    "guardrails": "prodml.predict.guardrails_document:GuardrailsDocument",
    "monitor": "prodml.monitor.spec_document:MonitorDocument",
    "pipeline": "prodml.pipelines.document:PipelineDocument",
    "plan": "prodml.deploy.plan_document:PlanDocument",
    "space": "prodml.pipelines.space_document:SpaceDocument",
    "suite": "prodml.evaluate.suite_document:SuiteDocument",
}
NOT_BLANK = r"\S"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SHOWN = 60  # characters of a value quoted in a message
MAX_LINES = 20  # problems listed in one message
_KINDS_OF_INPUT = {
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "float_type": "a number",
    "finite_number": "a finite number",
    "int_type": "a whole number",
    "list_type": "a list",
    "model_type": "a mapping",
    "none_required": "null",
    "string_type": "text",
    "tuple_type": "a list",
}


class Document(BaseModel):
    """A YAML document: strict types (a number is never text), unknown keys refused,
    defaults read like written values (``"1m"`` is 60 seconds)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, validate_default=True)


def seconds(value: object) -> float:
    """Seconds from a number or text such as 250ms, 30s, 5m, 2h, 1d."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("give seconds or a duration such as 30s, 5m, 2h")
    return float(match.group(1)) * _UNITS[match.group(2)]


Name = Annotated[str, StringConstraints(pattern=NOT_BLANK)]
Duration = Annotated[
    float,
    BeforeValidator(seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": _DURATION.pattern},
            ],
            "description": "seconds, or a duration such as 250ms, 30s, 5m, 2h, 1d",
        }
    ),
]
Model = TypeVar("Model", bound=Document)


def model_of(kind: str) -> type[Document]:
    """The model of a document kind (``suite``, ``plan``, ...)."""
    if kind not in KINDS:
        raise InvalidInputError(
            f"No document kind {kind!r}. Known kinds: {', '.join(sorted(KINDS))}."
        )
    module, name = KINDS[kind].split(":")
    found = getattr(importlib.import_module(module), name)
    assert isinstance(found, type) and issubclass(found, Document)
    return found


def read(model: type[Model], source: Any, what: str) -> Model:
    """``source`` (YAML text, or a document already parsed) read as ``model``; ``what``
    names the document in errors, e.g. "Rollout plan" or "Suite file suite.yaml"."""
    return check(model, yaml_text.parse(source, what) if isinstance(source, str) else source, what)


def check(model: type[Model], document: Any, what: str) -> Model:
    """A parsed document (a mapping, as YAML or JSON give it) read as ``model``."""
    if isinstance(document, Mapping) and not isinstance(document, dict):
        document = dict(document)
    if document is None:  # an empty file, or one of comments only
        raise InvalidInputError(
            f"{what} is empty; give a mapping with the fields {', '.join(_fields_at(model, []))}."
        )
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise InvalidInputError(message(model, error, what)) from None


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a document kind, for editors and checks."""
    found = model_of(kind).model_json_schema()
    for model in [found, *found.get("$defs", {}).values()]:
        for name, field in model.get("properties", {}).items():
            # pydantic gives no title to a field whose value is a model of its own
            field.setdefault("title", name.replace("_", " ").capitalize())
    return {"$schema": DRAFT, **found}


def message(model: type[BaseModel], error: ValidationError, what: str) -> str:
    """The problems of a document, one line each (at most ``MAX_LINES`` of them)."""
    lines = _lines(model, error.errors(include_url=False))
    if len(lines) == 1:
        return f"{what}{lines[0] if lines[0].startswith(' ') else ': ' + lines[0]}."
    listed = "".join(f"\n  {line.strip()}." for line in lines[:MAX_LINES])
    more = f"\n  ... and {len(lines) - MAX_LINES} more." if len(lines) > MAX_LINES else ""
    return f"{what} has {len(lines)} problems:{listed}{more}"


def _lines(model: type[BaseModel], errors: list[ErrorDetails]) -> list[str]:
    """One line per problem; a value that none of a union's shapes took is one problem."""
    order: list[Any] = []  # a line, or the location of a union whose lines come there
    unions: dict[tuple[Any, ...], list[tuple[ErrorDetails, list[Any]]]] = {}
    for error in errors:
        path, union = _walk(model, error["loc"])
        if union is None:
            order.append(_line(model, error, path))
        else:
            order.append(union)
            unions.setdefault(union, []).append((error, path))
    lines: list[str] = []
    for item in order:
        lines += _union_lines(model, unions[item]) if isinstance(item, tuple) else [item]
    return list(dict.fromkeys(lines))


def _union_lines(model: type[BaseModel], errors: list[tuple[ErrorDetails, list[Any]]]) -> list[str]:
    shaped = [(e, p) for e, p in errors if e["type"] not in _KINDS_OF_INPUT]
    if shaped:  # the value had a shape the union allows: say what is wrong within it
        at_once = {tuple(p) for _, p in shaped}
        error, path = shaped[0]
        if len(at_once) == 1 and path[-1] != "[key]" and not isinstance(error["input"], Mapping):
            wanted = ", or ".join(
                dict.fromkeys(_expected(e["type"], e.get("ctx") or {}, e) for e, _ in shaped)
            )
            return [f"{_path(path)} is {_shown(error['input'])}; {wanted}"]
        return [_line(model, e, p) for e, p in shaped]
    error, path = errors[0]
    kinds = " or ".join(dict.fromkeys(_KINDS_OF_INPUT[e["type"]] for e, _ in errors))
    return [f"{_path(path)} is {_shown(error['input'])}; give {kinds}"]


def _line(model: type[BaseModel], error: ErrorDetails, path: list[Any]) -> str:
    kind, context, value = error["type"], error.get("ctx") or {}, error["input"]
    if path and path[-1] == "[key]":
        known = "known" if kind == "literal_error" else "valid"
        return f"{_path(path[:-1])} is not a {known} key; {_expected(kind, context, error)}"
    subject = _path(path)
    if kind == "missing":
        about = _field(model, path)
        return f"{subject} is required" + (f" ({about.description})" if about else "")
    if kind == "extra_forbidden":
        siblings = _fields_at(model, path[:-1])
        return f"{subject} is not a known field; known: {', '.join(siblings)}"
    if kind in ("value_error", "assertion_error") and isinstance(value, Mapping):
        return f"{subject} {_expected(kind, context, error)}".rstrip(".")
    if kind == "model_type":
        fields = _fields_at(model, path)
        listing = f" with the fields {', '.join(fields)}" if fields else ""
        return f"{subject} is {_shown(value)}; give a mapping{listing}"
    whole = _bare(_at(model, path)) is int
    return f"{subject} is {_shown(value)}; {_expected(kind, context, error, whole)}".rstrip(".")


def _expected(kind: str, context: dict[str, Any], error: ErrorDetails, whole: bool = False) -> str:
    if kind in _KINDS_OF_INPUT:
        return f"give {_KINDS_OF_INPUT[kind]}"
    if kind in ("value_error", "assertion_error"):
        return str(context.get("error", error["msg"]))
    if kind == "literal_error":
        return f"use {context['expected']}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}
    bounds |= {"less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(context.values()))
        shown = str(limit) if isinstance(limit, int) else f"{limit:g}"  # 2**32 - 1 in full
        return f"give {'a whole' if whole else 'a'} number {bounds[kind]} {shown}"
    if kind == "string_pattern_mismatch":
        return "give non-blank text" if context["pattern"] == NOT_BLANK else "give valid text"
    if kind in ("too_short", "too_long"):
        count = context["min_length" if kind == "too_short" else "max_length"]
        least = "at least" if kind == "too_short" else "at most"
        return f"give {least} {count} item{'' if count == 1 else 's'}"
    return str(error["msg"]).replace("Input should be", "it should be")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _path(path: list[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[\w\-]+", str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{str(part)!r}]"
    return text


# Walking a model by an error's location, to drop union branch labels from the path and
# to find the field (its description, its siblings) a problem is about.


def _walk(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[Any], Any]:
    """The path without union branch labels, and where the innermost union sits."""
    current: Any = model
    path: list[Any] = []
    union: tuple[Any, ...] | None = None
    for index, part in enumerate(loc):
        current = _bare(current)
        options = _options(current)
        if len(options) > 1 and isinstance(part, str):
            union = loc[:index]
            current = _branch(options, part)
            continue
        path.append(part)
        if part == "[key]":
            break
        current = _inside(current, part)
    return path, union


def _field(model: type[BaseModel], path: list[Any]) -> Any:
    parent = _bare(_at(model, path[:-1]))
    if isinstance(parent, type) and issubclass(parent, BaseModel) and path:
        for name, field in parent.model_fields.items():
            if path[-1] in (name, field.alias):
                return field
    return None


def _fields_at(model: type[BaseModel], path: list[Any]) -> list[str]:
    found = _bare(_at(model, path))
    if isinstance(found, type) and issubclass(found, BaseModel):
        return sorted(field.alias or name for name, field in found.model_fields.items())
    return []


def _at(model: type[BaseModel], path: list[Any]) -> Any:
    current: Any = model
    for part in path:
        current = _inside(_bare(current), part)
        options = _options(_bare(current))
        if len(options) > 1:  # the shape the value took: the one that has the next part
            models = [o for o in options if isinstance(o, type) and issubclass(o, BaseModel)]
            current = models[0] if models else current
    return current


def _inside(current: Any, part: Any) -> Any:
    if isinstance(current, type) and issubclass(current, BaseModel):
        for name, field in current.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return Any
    origin, arguments = typing.get_origin(current), typing.get_args(current)
    if origin in (list, tuple) and arguments:
        return arguments[0]
    if origin is dict and len(arguments) == 2:
        return arguments[1]
    return Any


def _bare(annotation: Any) -> Any:
    """Without ``Annotated`` and without a ``None`` option (null is never a union branch)."""
    while True:
        if typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        options = _options(annotation)
        if len(options) == 1 and options[0] is not annotation:
            annotation = options[0]
            continue
        return annotation


def _options(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _branch(options: list[Any], label: str) -> Any:
    """The union option pydantic labels ``label`` (e.g. ``dict[str,float]``, a model's name)."""
    for option in options:
        bare = _bare(option)
        if isinstance(bare, type) and bare.__name__ == label:
            return option
        origin = typing.get_origin(bare)
        if origin is not None and label.startswith(f"{origin.__name__}["):
            return option
    return Any
