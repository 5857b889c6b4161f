"""A command's --help reads as prose in an 80-column terminal: each paragraph is
wrapped by the terminal's width, not broken where the source's lines end."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_process import run_prodml

from prodml.cli.help_text import prose


def _description(help_output: str) -> list[list[str]]:
    """The paragraphs of the text between the usage line and the first box."""
    lines = help_output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Usage:" in line) + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    paragraphs: list[list[str]] = [[]]
    for line in lines[start:end]:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


@pytest.mark.parametrize("command", [["backfill"], ["run"], ["sweep"]])
def test_help_paragraphs_fill_the_terminal_width(tmp_path: Path, command: list[str]) -> None:
    done = run_prodml(tmp_path / ".prodml", *command, "--help", columns=80)

    assert done.returncode == 0, done.stderr
    paragraphs = _description(done.stdout)
    assert len(paragraphs) >= 2
    for paragraph in paragraphs:
        # every line but a paragraph's last is filled: it was broken by the width
        assert all(len(line) > 60 for line in paragraph[:-1]), paragraph


def test_prose_joins_lines_but_keeps_examples_and_lists_as_written() -> None:
    text = """Summary line.

        A paragraph written
        over two lines.

        Examples:
          prodml run a.yaml
          prodml run b.yaml

        - one item
        - another item
        """

    assert prose(text) == (
        "Summary line.\n\nA paragraph written over two lines.\n\n"
        "Examples:\n  prodml run a.yaml\n  prodml run b.yaml\n\n- one item\n- another item"
    )
