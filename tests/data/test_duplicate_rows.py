"""Duplicate rows are counted in one in-memory DuckDB database the process keeps (for
tables up to SHARED_ROWS) or in a database of their own (larger ones): both count the
same, one table after another leaves nothing behind for the next, and a forked child
counts in a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

import prodml
from prodml.client import Client
from prodml.data import kept_duckdb, rows
from prodml.data.stored_profiles import profiles_of


def _table(count: int, repeats: int) -> pa.Table:
    values = np.arange(count) % (count - repeats)
    return pa.table({"a": values, "b": [f"v{v}" for v in values]})


def test_tables_counted_one_after_another_in_the_shared_database_each_count_their_own() -> None:
    first, second = _table(1000, 10), _table(500, 0)

    assert rows.duplicate_rows(first)[0] == 10
    assert rows.duplicate_rows(second)[0] == 0
    assert rows.duplicate_rows(first)[0] == 10


def test_a_table_past_the_shared_size_counts_the_same_in_its_own_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = _table(5000, 123)
    shared = rows.duplicate_rows(table)

    monkeypatch.setattr(kept_duckdb, "SHARED_ROWS", 100)
    alone = rows.duplicate_rows(table)

    assert alone[0] == shared[0] == 123
    assert np.array_equal(alone[1], shared[1])


FORKED = """
import os, sys, time
import numpy as np, pyarrow as pa
from prodml.data import rows

table = pa.table({"a": np.arange(2000) % 1993})
assert rows.duplicate_rows(table)[0] == 7  # the parent's database is open
child = os.fork()
if child == 0:
    assert rows.duplicate_rows(table)[0] == 7
    sys.exit(0)  # a normal exit: finalisation closes the databases the child has
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    done, status = os.waitpid(child, os.WNOHANG)
    if done:
        print(os.waitstatus_to_exitcode(status))
        break
    time.sleep(0.05)
else:
    os.kill(child, 9)
    print("hung")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")
def test_a_forked_child_counts_and_exits_cleanly_while_its_parent_has_a_database_open() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORKED], capture_output=True, text=True, timeout=120, check=True
    )

    assert done.stdout.strip() == "0", done.stdout + done.stderr  # it crashed at exit once


def test_a_table_profiled_in_forked_workers_counts_its_duplicates_once_the_database_is_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prodml.data import workers
    from prodml.data.profile import profile_table

    table = _table(3000, 40)
    alone = profile_table(table)  # the database is open from here on
    monkeypatch.setattr(workers, "PARALLEL_CELLS", 10)
    assert workers.worth_it(table)

    forked = profile_table(table)

    assert forked.duplicate_rows == alone.duplicate_rows == 40
    assert list(forked.columns) == list(alone.columns) == ["a", "b"]
    assert forked.columns["b"].counts() == alone.columns["b"].counts()


def test_a_table_with_decimals_of_more_than_38_digits_is_logged_with_its_profile(
    sqlite_client: Client,
) -> None:
    wide = pa.array([Decimal("1.50"), Decimal("2.25"), Decimal("1.50"), None], pa.decimal256(40, 2))
    table = pa.table({"id": [1, 2, 1, 3], "amount": wide})

    version = prodml.log_dataset("amounts", table, client=sqlite_client)  # DuckDB once refused it

    profile = profiles_of(sqlite_client, version)[0]
    assert profile.duplicate_rows == 1
    assert profile.columns["amount"].nulls == 1


def test_hashes_counted_by_a_sort_and_in_duckdb_give_the_same_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = _table(5000, 77)
    table = table.append_column("tags", pa.array([[v % 7] for v in table["a"].to_pylist()]))
    sorted_way = rows.duplicate_rows(table)

    monkeypatch.setattr(rows, "SORTED_ROWS", 100)
    duckdb_way = rows.duplicate_rows(table)

    assert sorted_way[0] == duckdb_way[0] == 77
    assert np.array_equal(sorted_way[1], duckdb_way[1])
    assert len(sorted_way[1]) == rows.ROW_SAMPLE
