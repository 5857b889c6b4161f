"""The model's answers on many rows, called on blocks of rows counted from the table's
first: a row's answer then depends on its block alone, not on how the table was cut into
parts for an executor (a BLAS's kernels round a row's sums by where it sits in the call,
and by how many threads share the product). A block the model raises on is answered
piece by piece, and the rows a piece raises on are found by halving."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

Answers = tuple[np.ndarray, np.ndarray, str | None]  # outputs, failed rows, first error

# Blocks grow with the table, so a large one pays few calls; parts hold whole blocks.
PIECE = 1024  # the smallest block; a block the model raises on is retried piece by piece
BLOCKS = 64  # a table is cut into about this many blocks, from one piece ...
LARGEST_BLOCK = 65_536  # ... up to this many rows
PROBES = 16  # single rows tried before a piece whose every part raised is failed whole
GIVE_UP_DEPTH = 6  # halvings (parts of 16 rows) after which those probes are tried
SINGLES = 16  # a part of this many rows or fewer that raises is tried row by row
BLOCK_CALLS = 2 * PIECE + PROBES  # enough to isolate every row of a piece


class WrongShape(Exception):
    def __init__(self, shape: tuple[int, ...], rows: int) -> None:
        self.shape, self.rows = shape, rows


def block_rows(rows: int) -> int:
    """The rows of a model call for a table of ``rows``: a power of two near a
    ``BLOCKS``-th of it, from ``PIECE`` to ``LARGEST_BLOCK``."""
    size = PIECE
    while size < LARGEST_BLOCK and size * 2 * BLOCKS <= rows:
        size *= 2
    return size


def aligned(ranges: list[tuple[int, int]], block: int) -> list[tuple[int, int]]:
    """The runs of rows with their bounds moved to the nearest multiple of ``block``
    (runs left empty dropped), so that every block is scored within one part."""
    rows = ranges[-1][1] if ranges else 0
    cuts = {min(rows, round(stop / block) * block) for _, stop in ranges[:-1]}
    bounds = [0, *sorted(cut for cut in cuts if 0 < cut < rows), rows]
    return list(itertools.pairwise(bounds))


def blocked(call: Any, frame: Any, rows: int, block: int = PIECE) -> Answers:
    """The model's outputs over all rows, called on each run of ``block`` rows from the
    part's first; a block it raises on is answered piece by piece (``PIECE`` rows), and
    the rows a piece raises on are isolated within it."""
    return _joined(
        [_block(call, frame, start, min(start + block, rows)) for start in range(0, rows, block)]
    )


def _block(call: Any, frame: Any, start: int, stop: int) -> Answers:
    if stop - start > PIECE:
        try:
            values = np.asarray(call(_rows(frame, start, stop)))
        except Exception:
            pieces = range(start, stop, PIECE)
            return _joined(
                [
                    _isolated(call, _rows(frame, s, min(s + PIECE, stop)), min(PIECE, stop - s))
                    for s in pieces
                ]
            )
        if values.ndim == 0 or len(values) != stop - start:
            raise WrongShape(values.shape, stop - start)
        return values, np.zeros(stop - start, dtype=bool), None
    return _isolated(call, _rows(frame, start, stop), stop - start)


def _joined(
    pieces: list[Answers],
) -> Answers:
    """Consecutive pieces' outputs as one (NaN, or zero, where a whole piece failed)."""
    rows = sum(len(bad) for _, bad, _ in pieces)
    failed = np.concatenate([bad for _, bad, _ in pieces]) if pieces else np.zeros(0, bool)
    error = next((error for _, _, error in pieces if error is not None), None)
    answered = [values for values, bad, _ in pieces if not bad.all()]
    if not answered:
        return np.empty(0), np.ones(rows, dtype=bool), error
    if len(pieces) == 1:
        return pieces[0]
    sample = answered[0]
    outputs = np.zeros((rows, *sample.shape[1:]), dtype=sample.dtype)
    if outputs.dtype.kind == "f":
        outputs[:] = np.nan
    offset = 0
    for values, bad, _ in pieces:
        if not bad.all():
            outputs[offset : offset + len(bad)] = values
        offset += len(bad)
    return outputs, failed, error


def _isolated(call: Any, frame: Any, rows: int) -> Answers:
    """One piece's outputs: one call, and where it raises, halves level by level until
    the rows it raises on are found, however many they are (at most ``BLOCK_CALLS``
    calls). A piece whose every part still raised after ``GIVE_UP_DEPTH`` levels and
    whose ``PROBES`` single rows, spread over it, all raise too is failed whole: a model
    that refuses every row costs 80 calls a piece, not two thousand."""
    failed = np.zeros(rows, dtype=bool)
    results: dict[int, np.ndarray] = {}
    first: str | None = None
    level, depth, calls = [(0, rows)], 0, 0
    while level:
        below: list[tuple[int, int]] = []
        for start, stop in level:
            if calls >= BLOCK_CALLS:
                failed[start:stop] = True
                continue
            calls += 1
            try:
                values = np.asarray(call(_rows(frame, start, stop)))
            except Exception as error:
                first = first or f"{type(error).__name__}: {error}"
                if stop - start == 1:
                    failed[start] = True
                elif stop - start <= SINGLES:  # one call a row: fewer than halving when dense
                    below += [(row, row + 1) for row in range(start, stop)]
                else:
                    middle = (start + stop) // 2
                    below += [(start, middle), (middle, stop)]
                continue
            if values.ndim == 0 or len(values) != stop - start:
                raise WrongShape(values.shape, stop - start)
            results[start] = values
        depth += 1
        if not results and depth == GIVE_UP_DEPTH and below:
            calls += PROBES
            if not _any_answered(call, frame, below):
                for start, stop in below:
                    failed[start:stop] = True
                break
        level = below
    if not results:
        return np.empty(0), failed, first
    sample = next(iter(results.values()))
    outputs = np.zeros((rows, *sample.shape[1:]), dtype=sample.dtype)
    for start, values in results.items():
        outputs[start : start + len(values)] = values
    return outputs, failed, first


def _any_answered(call: Any, frame: Any, ranges: list[tuple[int, int]]) -> bool:
    """Whether the model answers any of ``PROBES`` single rows spread evenly over
    ``ranges``."""
    rows = np.concatenate([np.arange(start, stop) for start, stop in ranges])
    for row in rows[np.linspace(0, len(rows) - 1, min(PROBES, len(rows))).astype(int)]:
        try:
            call(_rows(frame, int(row), int(row) + 1))
        except Exception:
            continue
        return True
    return False


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Linear algebra on one thread while the model answers: how many threads a BLAS
    splits a product over changes the last bits of its sums, and a Ray worker has one."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # no scikit-learn, which brings it: nothing to limit
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _rows(frame: Any, start: int, stop: int) -> Any:
    return frame.iloc[start:stop] if hasattr(frame, "iloc") else frame[start:stop]
