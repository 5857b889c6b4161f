"""Tables: reading files, the content digest that names a version, and summaries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import prodml
from prodml.client import Client
from prodml.data.tables import content_digest, read_table, summarise, to_arrow


def test_digest_ignores_chunking() -> None:
    table = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=7))

    assert rechunked.column("a").num_chunks > 1
    assert content_digest(rechunked) == content_digest(table)


def test_digest_ignores_the_bytes_under_null_slots() -> None:
    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    zeros = pa.Array.from_buffers(
        pa.float64(), 3, [validity, pa.py_buffer(np.array([1.0, 0.0, 3.0]).tobytes())]
    )
    garbage = pa.Array.from_buffers(
        pa.float64(), 3, [validity, pa.py_buffer(np.array([1.0, 99.0, 3.0]).tobytes())]
    )

    assert zeros.to_pylist() == garbage.to_pylist() == [1.0, None, 3.0]
    assert content_digest(pa.table({"x": zeros})) == content_digest(pa.table({"x": garbage}))


def test_digest_tells_null_from_value_and_column_names_apart() -> None:
    base = content_digest(pa.table({"x": [1.0, None]}))

    assert base != content_digest(pa.table({"x": [1.0, 0.0]}))
    assert base != content_digest(pa.table({"y": [1.0, None]}))
    assert base != content_digest(pa.table({"x": [None, 1.0]}))


def test_parquet_file_metadata_does_not_change_the_version(client: Client, tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2, None], "s": ["x", None, "z"]})
    tagged = table.replace_schema_metadata({"writer": "some tool", "pandas": "{}"})
    path = tmp_path / "tagged.parquet"
    pq.write_table(tagged, path)

    from_memory = prodml.log_dataset("t", table, client=client)
    from_file = prodml.log_dataset("t", path, client=client)

    assert from_file.id == from_memory.id
    assert from_file.version == 1


def test_tsv_and_csv_of_the_same_rows_agree(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name\n1,ann\n2,bob\n")
    (tmp_path / "a.tsv").write_text("id\tname\n1\tann\n2\tbob\n")

    csv, tsv = read_table(tmp_path / "a.csv"), read_table(tmp_path / "a.tsv")

    assert csv.to_pydict() == {"id": [1, 2], "name": ["ann", "bob"]}
    assert content_digest(csv) == content_digest(tsv)


def test_dict_of_columns_is_accepted() -> None:
    assert to_arrow({"a": [1, 2]}, "d").to_pydict() == {"a": [1, 2]}


def test_summaries_of_awkward_columns() -> None:
    table = pa.table(
        {
            "empty": pa.array([None, None], pa.float64()),
            "flag": [True, False],
            "when": [datetime(2024, 1, 1), datetime(2024, 3, 1)],
            "tags": [["a"], ["b", "c"]],
            "cat": pa.array(["x", "y"]).dictionary_encode(),
        }
    )

    summaries = {s.name: s for s in summarise(table)}

    empty = summaries["empty"]
    assert (empty.nulls, empty.distinct) == (2, 0)
    assert empty.min is empty.max is empty.mean is None
    assert (summaries["flag"].min, summaries["flag"].max, summaries["flag"].mean) == (
        False,
        True,
        None,
    )
    assert summaries["when"].min.startswith("2024-01-01")
    assert summaries["when"].max.startswith("2024-03-01")
    assert summaries["tags"].type == "list<item: string>"
    assert summaries["tags"].min is None and summaries["cat"].min is None


def test_awkward_columns_can_be_logged_and_loaded(client: Client) -> None:
    table = pa.table(
        {
            "when": [datetime(2024, 1, 1), None],
            "tags": [["a"], None],
            "cat": pa.array(["x", None]).dictionary_encode(),
        }
    )

    version = prodml.log_dataset("odd", table, client=client)

    assert prodml.get_dataset("odd", client=client).columns == version.columns
    assert prodml.load_table("odd", client=client).column("tags").to_pylist() == [["a"], None]


def test_a_loaded_table_logged_again_is_the_same_version(client: Client) -> None:
    import datetime

    import pyarrow as pa

    table = pa.table(
        {
            "day": pa.array([datetime.date(2020, 1, 1)], pa.date64()),
            "items": pa.array([[1, 2]], pa.list_(pa.int64())),
            "kind": pa.array(["a"]).dictionary_encode(),
            "tags": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
        }
    )
    first = prodml.log_dataset("roundtrip", table, client=client)
    again = prodml.log_dataset("roundtrip", prodml.load_table(first, client=client), client=client)
    assert again.version == first.version == 1
