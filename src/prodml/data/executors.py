"""Running one function over the parts of a job and getting the results back in the
parts' order: in this process (``LocalExecutor``), or elsewhere by an executor with
the same two members (the Ray executor is built by the SDK, which may import Ray).

A part and the function must be picklable for an executor that runs them in other
processes: a module-level function, or ``functools.partial`` of one over plain data
(settings, domain records), never a client, a connection or an open file."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

P = TypeVar("P")
R = TypeVar("R")
Progress = Callable[[int, int], None]  # parts done, parts in all


class Executor(Protocol):
    name: str

    @property
    def workers(self) -> int:
        """How many parts it runs at once: the default number of parts of a job."""

    def map(
        self, function: Callable[[P], R], parts: Sequence[P], progress: Progress | None = None
    ) -> list[R]:
        """``function`` of every part, in the parts' order; the first error is raised."""


class LocalExecutor:
    """Each part in turn, in this process."""

    name = "local"

    @property
    def workers(self) -> int:
        return 1

    def map(
        self, function: Callable[[P], R], parts: Sequence[P], progress: Progress | None = None
    ) -> list[R]:
        results = []
        for done, part in enumerate(parts, start=1):
            results.append(function(part))
            if progress is not None:
                progress(done, len(parts))
        return results


def map_partitions(
    function: Callable[[P], R],
    parts: Sequence[P],
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> list[R]:
    """``function`` of every part on ``executor`` (default: in this process), in order."""
    return (executor or LocalExecutor()).map(function, parts, progress)


def row_ranges(rows: int, parts: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of ``parts`` contiguous runs of rows as even as can be, none
    empty (fewer parts than asked when there are fewer rows; one empty run for none)."""
    count = max(1, min(parts, rows))
    bounds = [rows * i // count for i in range(count + 1)]
    return list(itertools.pairwise(bounds))
