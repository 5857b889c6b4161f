"""Params in the SQL store: write-once per run and key, across processes.

A param may be logged again with the value it has, never with another. The unique
key on (run_id, key) decides: rows go in with ``ON CONFLICT DO NOTHING``, and only
when some row was not new are the stored values read back and compared, so a
process that lost a race to another gets ``ParamConflictError``, never the
database's integrity error; and the usual batch of new params costs no read.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from prodml.errors import ParamConflictError
from prodml.stores import driver
from prodml.stores.run_values import INSERT_VALUE, value_row

_INSERT_PARAM = (
    "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING"
)
_INSERT_PARAM_VALUE = f"{INSERT_VALUE} ON CONFLICT (run_id, kind, key) DO NOTHING"


Prepared = tuple[list[tuple[str, str, str]], list[tuple[object, ...]]]


def insert_params(connection: sa.Connection, params: Sequence[tuple[str, str, str]]) -> None:
    """Store params of any runs, each searchable too; refuse one that would change."""
    store_params(connection, prepare_params(params))


def prepare_params(params: Sequence[tuple[str, str, str]]) -> Prepared:
    """The rows of params to store and of their search values, made before the write;
    a batch that sets one param to two values is refused here."""
    fresh = list({(run_id, key): (run_id, key, value) for run_id, key, value in params}.values())
    if len(fresh) < len(params):
        _check_repeats(params)
    rows = (value_row(run_id, "param", key, value) for run_id, key, value in fresh)
    return fresh, [row for row in rows if row]


def store_params(connection: sa.Connection, prepared: Prepared) -> None:
    fresh, values = prepared
    added = driver.execute_many(connection, _INSERT_PARAM, fresh)
    if added != len(fresh):
        _check_stored(connection, fresh)
    driver.execute_many(connection, _INSERT_PARAM_VALUE, values)


def _check_repeats(params: Sequence[tuple[str, str, str]]) -> None:
    """One batch that sets a param twice must set it to one value."""
    seen: dict[tuple[str, str], str] = {}
    for run_id, key, value in params:
        previous = seen.setdefault((run_id, key), value)
        if previous != value:
            raise _conflict(run_id, key, previous, value)


def _check_stored(connection: sa.Connection, params: Sequence[tuple[str, str, str]]) -> None:
    """Each param just logged must now hold its logged value: the ones that were not
    new were stored before, with the same value or a conflicting one."""
    stored = {
        (run_id, key): value
        for run in {run_id for run_id, _, _ in params}
        for run_id, key, value in driver.execute(
            connection, "SELECT run_id, key, value FROM params WHERE run_id = ?", (run,)
        )
    }
    for run_id, key, value in params:
        previous = stored.get((run_id, key), value)
        if previous != value:
            raise _conflict(run_id, key, previous, value)


def _conflict(run_id: str, key: str, previous: str, value: str) -> ParamConflictError:
    return ParamConflictError(
        f"Param {key!r} of run {run_id[:12]} is already {previous!r}; it cannot become "
        f"{value!r}. Log the new value under another name or start a new run."
    )
