"""YAML documents users write (checks, suites, guardrails): read with errors that
name the file and the first line of the parser's complaint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prodml.errors import InvalidInputError


def parse(text: str, what: str, verb: str = "is") -> Any:
    """``what`` names the document in errors, e.g. "Suite file suite.yaml"."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0]
        raise InvalidInputError(f"{what} {verb} not valid YAML: {first}.") from None


def read(path: Path, what: str) -> Any:
    """The document in ``path``; ``what`` is its kind, e.g. "suite file"."""
    try:
        text = path.read_text()
    except OSError as error:
        raise InvalidInputError(f"Cannot read {what} {path}: {error.strerror}.") from None
    return parse(text, f"{what.capitalize()} {path}")
