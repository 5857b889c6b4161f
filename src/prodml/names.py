"""Rules for the names users give to experiments, datasets, models and artifacts."""

from __future__ import annotations

import re

from prodml.errors import InvalidInputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/ ]{0,199}$")


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"{what.capitalize()} name {name!r} is not valid: use 1-200 letters, digits, "
            "'_', '-', '.', '/' or spaces, starting with a letter or digit (no '@')."
        )
    return name
