"""Rules for the names users give to experiments, datasets, models and artifacts."""

from __future__ import annotations

import re
from typing import TypeGuard

from prodml.errors import InvalidInputError, echoed

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-/ ]{0,199}$"  # of experiments, datasets, models
_NAME = re.compile(NAME_PATTERN)


def check_artifact_name(name: object) -> str:
    """Artifact names are file names: any printable text but no control characters."""
    if not _printable(name, 255):
        raise InvalidInputError(
            f"Artifact name {name!r} is not valid: use 1-255 printable characters."
        )
    return name


def check_label(name: object, what: str) -> str:
    """A name that is only ever shown and matched whole (a sweep's): any printable text
    of 1 to 200 characters, quotes and letters of any script included."""
    if not _printable(name, 200):
        shown = echoed(name) if isinstance(name, str) else repr(name)[:60]
        raise InvalidInputError(
            f"{what.capitalize()} name {shown} is not valid: use 1-200 printable characters "
            "(no line breaks), not only spaces."
        )
    return name


def _printable(name: object, most: int) -> TypeGuard[str]:
    """Text of 1 to ``most`` characters, not all spaces, with no control character,
    that every store accepts."""
    return (
        isinstance(name, str)
        and bool(name.strip())
        and len(name) <= most
        and not any(ord(char) < 32 or char == "\x7f" for char in name)
        and storable_text(name)
    )


def storable_text(text: str) -> bool:
    """Text every store accepts: valid UTF-8 (no lone surrogates) and no NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        long = isinstance(name, str) and len(name) > 80
        shown = f"{str(name)[:60]!r}... ({len(str(name))} characters)" if long else repr(name)
        raise InvalidInputError(
            f"{what.capitalize()} name {shown} is not valid: use 1-200 letters, digits, "
            "'_', '-', '.', '/' or spaces, starting with a letter or digit (no '@')."
        )
    return name
