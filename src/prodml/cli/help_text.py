"""Command help as prose the terminal wraps: Typer keeps the line breaks of a
docstring after its first paragraph, so help written at the source's width broke
mid-sentence in an 80-column terminal."""

from __future__ import annotations

import inspect
from typing import Any

_AS_WRITTEN = (" ", "\t", "-", "*", "\b")  # an indented or listed line keeps its paragraph


def unwrap(command: Any) -> None:
    """Join the lines of each prose paragraph of ``command``'s help and its commands'
    (a click command as Typer builds it: Typer 0.28 brings its own copy of click)."""
    if command.help:
        command.help = prose(command.help)
    for sub in getattr(command, "commands", {}).values():
        unwrap(sub)


def prose(text: str) -> str:
    """``text`` with each paragraph on one line, but those holding an indented or
    listed line (an example, a list), which are kept as written."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        paragraph
        if any(line.startswith(_AS_WRITTEN) for line in paragraph.splitlines())
        else " ".join(line.strip() for line in paragraph.splitlines())
        for paragraph in paragraphs
    )
