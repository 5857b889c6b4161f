"""Names and values quoted for SQL come back from DuckDB exactly as they went in."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest

from prodml.errors import InvalidInputError
from prodml.sql_text import identifier, literal, seal

HOSTILE = [
    "x\" FROM t; COPY (SELECT 42) TO '/tmp/f.csv'; SELECT 'a' AS request_id --",
    "it's",
    'say "hi"',
    "a;b -- c\nd /* e */",
    "\"'\"'",
    "",
    "ünïcødé ✓",
]


@pytest.mark.parametrize("name", [name for name in HOSTILE if name])
def test_an_identifier_names_exactly_the_column_it_was_made_from(name: str) -> None:
    connection = duckdb.connect()

    result = connection.execute(f"SELECT 1 AS {identifier(name)}")

    assert [d[0] for d in result.description] == [name]
    assert result.fetchall() == [(1,)]


def test_a_name_sql_cannot_hold_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInputError, match=r"'a\\x00b' holds a NUL"):
        identifier("a\x00b")
    with pytest.raises(InvalidInputError, match="Column name '' is empty"):
        identifier("")


@pytest.mark.parametrize(
    "value",
    [
        *HOSTILE,
        "with\x00nul",
        0,
        -7,
        2**70,
        0.1,
        -1e-300,
        np.float64(1.5),
        np.int64(9),
        True,
        False,
        None,
        ["a'b", "c"],
    ],
)
def test_a_literal_reads_back_as_the_value_it_was_made_from(value: object) -> None:
    (back,) = duckdb.connect().execute(f"SELECT {literal(value)}").fetchone() or (object(),)

    assert (float(back) if isinstance(value, float) else back) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64(math.nan)])
def test_not_a_number_and_infinities_are_doubles_not_column_names(value: float) -> None:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (nan DOUBLE, inf DOUBLE)")
    connection.execute("INSERT INTO t VALUES (1, 2)")

    (back,) = connection.execute(f"SELECT {literal(value)} FROM t").fetchone() or (None,)

    assert isinstance(back, float)
    assert (math.isnan(back) and math.isnan(value)) or back == value


def test_a_sealed_connection_reads_its_files_only_and_cannot_be_unsealed(
    tmp_path: Path,
) -> None:
    readable, other = tmp_path / "log.csv", tmp_path / "other.csv"
    readable.write_text("a\n1\n")
    other.write_text("a\n2\n")
    connection = duckdb.connect()
    connection.execute(f"CREATE VIEW log AS SELECT * FROM read_csv({literal(str(readable))})")

    seal(connection, [str(readable)])

    assert connection.execute("SELECT a FROM log").fetchall() == [(1,)]
    for sql in (
        f"SELECT * FROM read_csv({literal(str(other))})",
        f"COPY (SELECT 1) TO {literal(str(tmp_path / 'new.csv'))}",
        "SET enable_external_access = true",
        "SET allowed_paths = ['/']",
    ):
        with pytest.raises(duckdb.Error):
            connection.execute(sql)
    assert not (tmp_path / "new.csv").exists()
