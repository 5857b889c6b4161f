"""A parsed run search: which runs (a tree of terms joined by and/or), in which
order, which page. The filter text is parsed in :mod:`prodml.track.search`; the
stores turn these records into one SQL query whose every value is a bound
parameter, so nothing a user typed is ever spliced into SQL.

A term on a metric compares the run's latest value of that metric; a term on a
key the run does not have never matches (``config.depth != 6`` finds runs whose
depth is set and is not 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from prodml.domain.run import Run


class Field(StrEnum):
    """Where a term's key lives."""

    METRIC = "metrics"
    PARAM = "params"
    CONFIG = "config"
    TAG = "tags"
    ATTRIBUTE = "attributes"


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "~"
    IN = "in"


# The run's own columns a term or a sort may name; times are epoch seconds.
ATTRIBUTES = ("author", "ended", "experiment", "hypothesis", "id", "started", "status")

Value = float | str


def quoted_value(text: str) -> str:
    """``text`` written as a quoted value of the run filter language, for a filter
    built in code (``tags.prodml.sweep = QUOTED``): the language escapes a quote or a
    backslash inside quotes with a backslash."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


@dataclass(frozen=True)
class Term:
    """``field.key op values``: numbers are floats, text is str (one value unless ``in``)."""

    field: Field
    key: str
    op: Op
    values: tuple[Value, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


Condition = Term | AllOf | AnyOf


@dataclass(frozen=True)
class SortKey:
    field: Field
    key: str
    descending: bool = False


@dataclass(frozen=True, kw_only=True)
class RunQuery:
    """A whole search: runs missing a sort key come last in either direction, and
    ties are broken by run id, so pages never overlap or skip a run."""

    where: Condition | None = None
    order: tuple[SortKey, ...] = ()
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, kw_only=True)
class RunPage:
    """One page of a search: its runs, how many runs match in all, and the token of
    the next page (None on the last)."""

    runs: tuple[Run, ...]
    total: int
    next_page_token: str | None = None
    offset: int = 0
