"""A table version's id is the digest of the table as Parquet gives it back. Logging no
longer reads the file back where the file's schema says every column comes back as
it went in: the ids stay those the read-back gave (step cache keys and existing stores
depend on them), for sliced, chunked, pandas and nested tables alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import prodml
from prodml.client import Client
from prodml.data import distinct, tables
from prodml.data.stored_tables import as_stored, load_table

# Computed by the code that read every stored table back from its Parquet file, at
# 47029a8 (pyarrow 26.0.1). A change of any of them renames stored versions.
PINNED = {
    "flat": "452ac466f37624e663282987c6f8e0015776ebee0f57abe353f328534dc9fc00",
    "flat-sliced": "bd1549ce5eeb08a860266209b2b1fa272a2821418f3ae189fe8f20e8121eaa25",
    "flat-chunked": "452ac466f37624e663282987c6f8e0015776ebee0f57abe353f328534dc9fc00",
    "pandas": "0669e215a048dd44af8fa6dee64dcb216cf0af49aad1ca3a6cb98f31abaca71c",
    "pandas-rows": "2588c013c1af6934095dd4e56a09dc53254c5d1590eaf462016a1be063a4c7e8",
    "nested": "7caa4143df356df11741b8d04efaab90448464cff31f1d29a3209651a5e90f34",
    "nested-sliced": "f2a5296fb86d11ab6dd86d044b6bc1f7101b93ec3c019ce7a6fe5291fe915610",
}


def _pinned_tables() -> dict[str, Any]:
    count = 70_000  # more than one batch of the digest's 65,536 rows
    numbers = pa.array(range(count), pa.int64())
    text = pa.array([f"city-{i % 37}" for i in range(count)], pa.large_string())
    small = pa.array([i % 100 - 50 for i in range(count)], pa.int8())
    halves = pa.array([i / 2 if i % 11 else None for i in range(count)], pa.float64())
    seconds = pa.array([1_700_000_000 + i for i in range(count)], pa.timestamp("s"))
    flat = pa.table({"id": numbers, "city": text, "small": small, "half": halves, "when": seconds})
    frame = pd.DataFrame(
        {
            "id": range(1000),
            "fare": [i * 0.25 if i % 7 else None for i in range(1000)],
            "city": [["Oslo", "Lima", None][i % 3] for i in range(1000)],
            "day": pd.to_datetime(["2024-01-01"] * 1000).astype("datetime64[s]"),
            "flag": [i % 2 == 0 for i in range(1000)],
        }
    )
    nested = pa.table(
        {
            "id": pa.array(range(500), pa.int64()),
            "tags": pa.array([[f"t{i % 3}"] * (i % 4) for i in range(500)]),
            "kind": pa.array([["a", "b", "c"][i % 3] for i in range(500)]).dictionary_encode(),
        }
    )
    return {
        "flat": flat,
        "flat-sliced": flat.slice(13, 60_000),
        "flat-chunked": pa.concat_tables([flat.slice(0, 1234), flat.slice(1234)]),
        "pandas": frame,
        "pandas-rows": frame.iloc[5:905],
        "nested": nested,
        "nested-sliced": nested.slice(3, 400),
    }


@pytest.mark.parametrize("name", list(PINNED))
def test_a_table_logged_now_is_the_version_the_read_back_named(
    sqlite_client: Client, name: str
) -> None:
    version = prodml.log_dataset("pinned", _pinned_tables()[name], client=sqlite_client)

    assert version.id == PINNED[name]
    again = prodml.log_dataset("pinned", load_table(sqlite_client, version), client=sqlite_client)
    assert (again.id, again.version) == (version.id, version.version)


def _through_parquet(table: pa.Table) -> tuple[pa.Table, pa.Schema]:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue()
    return tables.plain(pq.read_table(pa.BufferReader(data))), pq.read_schema(pa.BufferReader(data))


@pytest.mark.parametrize("name", ["flat", "flat-sliced", "flat-chunked", "pandas", "pandas-rows"])
def test_a_flat_table_is_made_as_parquet_gives_it_back_without_reading_it(name: str) -> None:
    table = tables.to_arrow(_pinned_tables()[name], name)
    back, schema = _through_parquet(table)

    made = as_stored(table, schema)

    assert made is not None
    assert made.schema == back.schema
    assert made.equals(back)
    assert tables.content_digest(made) == tables.content_digest(back)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([[1], [2, 3]]),  # list items come back named "element"
        pa.array(["a", "b"]).dictionary_encode(),  # the dictionary is rebuilt from the values
        pa.array([0, 86_400_000], pa.date64()),  # Parquet has no date64
    ],
)
def test_a_column_parquet_changes_is_read_back(column: pa.Array) -> None:
    table = tables.plain(pa.table({"id": [1, 2], "c": column}))

    assert as_stored(table, _through_parquet(table)[1]) is None


def test_a_slice_has_the_digest_of_the_same_rows_made_afresh() -> None:
    table = pa.table(
        {
            "small": pa.array(range(100), pa.int8()),
            "text": pa.array([f"v{i}" for i in range(100)], pa.large_string()),
            "raw": pa.array([bytes([i]) for i in range(100)], pa.large_binary()),
        }
    )
    sliced = table.slice(7, 50)
    fresh = pa.table(
        {
            name: pa.array(sliced.column(name).to_pylist(), field.type)
            for name, field in zip(sliced.column_names, sliced.schema, strict=True)
        }
    )

    assert tables.content_digest(sliced) == tables.content_digest(fresh)


@pytest.mark.parametrize(
    ("count", "piece"),
    [(300_000, 1_000), (2_300_000, 700_001)],  # one row group; three, chunks across them
)
def test_the_same_rows_held_otherwise_in_memory_give_the_same_size_and_summaries(
    tmp_path: Any, count: int, piece: int
) -> None:
    """A version's bytes and its columns' means do not depend on how the table was
    split in memory (one chunk, many, read back from a file): a scored table joined
    from parts and the same table made whole are the same version in every field,
    also when it is written in several row groups whose rows span chunks."""
    whole = pa.table(
        {
            "id": pa.array(range(count), pa.int64()),
            "score": pa.array(np.random.default_rng(0).random(count) * 1e3, pa.float64()),
        }
    )
    parts = pa.concat_tables([whole.slice(start, piece) for start in range(0, count, piece)])
    assert parts.column("score").num_chunks > 1
    seen = []
    for index, table in enumerate((whole, parts)):
        client = Client(home=tmp_path / f"store-{index}")
        version = prodml.log_dataset("scores", table, client=client)
        seen.append((version.id, version.num_bytes, version.columns))
        client.close()
    assert seen[0] == seen[1]
    dictionary = distinct.dictionary_columns(whole)
    assert dictionary == []  # both columns mostly distinct: written plainly
    pq.write_table(whole, tmp_path / "whole.parquet", compression="zstd", use_dictionary=dictionary)
    assert seen[0][1] == (tmp_path / "whole.parquet").stat().st_size  # the bytes stored
    assert pq.ParquetFile(tmp_path / "whole.parquet").num_row_groups == -(-count // 1024**2)
