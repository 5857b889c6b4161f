"""YAML documents users write (suites, rollout plans, monitors, checks, guardrails):
read with errors that name the file and the first line of the parser's complaint.
What their fields mean is :mod:`prodml.documents`' part."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from prodml.errors import InvalidInputError


def parse(text: str, what: str, verb: str = "is") -> Any:
    """``what`` names the document in errors, e.g. "Suite file suite.yaml"."""
    import yaml  # here: commands that never read a document start without it

    try:
        document = yaml.load(text, Loader=_loader())  # a SafeLoader
        _check_expanded(document, what)
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{what} {verb} not valid YAML: {_complaint(error)}.") from None
    except ValueError as error:  # a date or number the loader cannot make (2013-13-45)
        reason = str(error).split(":")[0]
        raise InvalidInputError(
            f"{what} {verb} not valid YAML: a value reads as a date or number that cannot "
            f"be one ({reason}). Correct it, or quote it to keep it as text."
        ) from None
    except RecursionError:
        raise InvalidInputError(
            f"{what} {verb} nested too deeply to read (lists or mappings hundreds of levels "
            "inside one another); flatten it."
        ) from None
    return document


MAX_VALUES = 1_000_000  # values in a document with every alias written out


def _check_expanded(document: Any, what: str) -> None:
    """Refuse a document whose aliases (``*name``) make it larger than ``MAX_VALUES``
    values written out, or make a list or mapping hold itself: the loader shares what
    an alias names, so a few lines can stand for billions of values (or an endless
    one), which every later step (checking, digesting, storing) would expand."""
    sizes: dict[int, int] = {}  # id of a list or mapping -> its values written out
    open_: set[int] = set()

    def size(value: Any) -> int:
        if not isinstance(value, list | dict):
            return 1
        known = sizes.get(id(value))
        if known is not None:
            return known
        if id(value) in open_:
            raise InvalidInputError(
                f"{what}: a list or mapping in it holds itself through an alias (&name "
                "with *name inside it), which has no end when written out; remove the alias."
            )
        open_.add(id(value))
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1 + sum(size(item) for item in items)
        open_.discard(id(value))
        if total > MAX_VALUES:
            raise InvalidInputError(
                f"{what}: more than {MAX_VALUES:,} values once its aliases (*name) are "
                "written out, more than a document written by hand needs. Use fewer "
                "aliases, or put the data in a dataset."
            )
        sizes[id(value)] = total
        return total

    size(document)


@functools.cache
def _loader() -> Any:
    """PyYAML's SafeLoader that refuses a key given twice in one mapping (it keeps the
    last silently: a second ``train:`` in a config would hide the first). Keys a merge
    (``<<: *defaults``) brings in may still be overridden."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if _hashable(key) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        problem=f"the key {key!r}, first given on line {seen[key]}, is given again",
                        problem_mark=key_node.start_mark,
                    )
                if _hashable(key):
                    seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep)

    return UniqueKeys


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _complaint(error: Any) -> str:
    """What the parser found wrong and where (``problem`` and ``problem_mark`` of a
    marked error), else the first line of its message."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if problem is None or mark is None:
        return str(error).splitlines()[0].rstrip(".")
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    return f"{problem} at {where}" + (f" ({context})" if context else "")


def read(path: Path, what: str) -> Any:
    """The document in ``path``; ``what`` is its kind, e.g. "suite file"."""
    try:
        text = path.read_text(encoding="utf-8")  # not the locale's: the same file anywhere
    except OSError as error:
        raise InvalidInputError(f"Cannot read {what} {path}: {error.strerror}.") from None
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise InvalidInputError(
            f"{what.capitalize()} {path} is not UTF-8 text: line {line} holds the byte "
            f"0x{error.object[error.start]:02x}. Save the file as UTF-8 and run again."
        ) from None
    return parse(text, f"{what.capitalize()} {path}")


def names_a_file(source: str | Path) -> bool:
    """Whether ``source`` is the path of a file, as opposed to YAML text (which may be
    too long to be a file name at all)."""
    text = str(source)
    if "\n" in text or len(text) > 1024:
        return False
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a name longer than the file system allows
        return False
