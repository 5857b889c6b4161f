"""A step's config values checked against its function's annotations before any step
runs: ``factor: int`` given the text ``abc`` (or ``1e-3``, which YAML reads as text)
is refused naming the key, instead of failing inside the step's library halfway
through the run. Only plain annotations are read (``int``, ``float``, ``str``,
``bool``, ``list``, ``dict``, unions of them, ``Optional``); any other is the
function's own business, and null is always let through (a default of None)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prodml.errors import InvalidInputError

KINDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "list": "a list",
    "tuple": "a list",
    "List": "a list",
    "Sequence": "a list",
    "dict": "a mapping",
    "Dict": "a mapping",
    "Mapping": "a mapping",
}
_NUMBER_AS_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")  # YAML 1.1 reads as text


def check(where: str, path: str, config: Mapping[str, Any], annotations: Mapping[str, str]) -> None:
    """``where`` names the step, ``path`` its config slice; ``annotations`` are its
    parameters' annotations as written."""
    for key, value in config.items():
        wanted = wanted_kinds(annotations.get(key, ""))
        given = _kind(value)
        if wanted is None or given is None or given in wanted or _widens(value, given, wanted):
            continue
        raise InvalidInputError(
            f"{where} takes {key}: {annotations[key]}, but the config gives {path}.{key} = "
            f"{value!r:.40}, which is {_fraction(value) or given}{_hint(value)}. Fix the "
            "value in the pipeline file or the -s override."
        )


def _widens(value: Any, given: str, wanted: set[str]) -> bool:
    """A whole number is a number (``lr: float`` takes 1), and a number without a
    fraction (2.0) is a whole number (``depth: int`` takes it, not 2.5)."""
    if given == KINDS["int"]:
        return KINDS["float"] in wanted
    return given == KINDS["float"] and KINDS["int"] in wanted and float(value).is_integer()


def _fraction(value: Any) -> str:
    fractional = isinstance(value, float) and not value.is_integer()
    return "a number with a fraction" if fractional else ""


def _hint(value: Any) -> str:
    """How to write a number YAML reads as text (``1e-3`` needs a point and a sign)."""
    if not isinstance(value, str) or not _NUMBER_AS_TEXT.match(value.strip()):
        return ""
    mantissa, _, exponent = value.strip().lower().partition("e")
    mantissa += "" if "." in mantissa else ".0"
    exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
    return f" (YAML reads {value.strip()} as text; write {mantissa}e{exponent})"


def wanted_kinds(annotation: str) -> set[str] | None:
    """The kinds of value an annotation takes, or None when it says no plain kind."""
    text = annotation.strip().strip("'\"")
    optional = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", text)
    parts = [optional[1]] if optional else text.split("|")
    kinds = set()
    for part in (p.strip() for p in parts):
        if part == "None":
            continue
        kind = KINDS.get(
            part.split("[", 1)[0].removeprefix("typing.").removeprefix("collections.abc.")
        )
        if kind is None:
            return None
        kinds.add(kind)
    return kinds or None


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return KINDS["bool"]
    if isinstance(value, int):
        return KINDS["int"]
    if isinstance(value, float):
        return KINDS["float"]
    if isinstance(value, str):
        return KINDS["str"]
    if isinstance(value, list):
        return KINDS["list"]
    if isinstance(value, dict):
        return KINDS["dict"]
    return None
