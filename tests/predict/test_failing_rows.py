"""Batch scoring of tables holding rows the model raises on: a part whose every row
raises and a table whose every row raises are scored, with null answers on them."""

from __future__ import annotations

import numpy as np
from scoring_data import customers, logged

import prodml
from prodml.client import Client

ADDED = ["prediction", "proba_leave", "proba_stay"]


def _with_holes(rows: np.ndarray) -> object:
    frame = customers().copy()
    frame.loc[rows, "x1"] = np.nan  # LogisticRegression raises on NaN
    return frame


def test_a_part_whose_every_row_raises_is_scored_with_null_answers(
    sqlite_client: Client,
) -> None:
    logged(sqlite_client, _with_holes(np.arange(1000)))  # the first of three parts

    whole = prodml.score("churn@1", "customers@1", client=sqlite_client)
    parts = prodml.score("churn@1", "customers@1", partitions=3, client=sqlite_client)

    assert whole.failed == parts.failed >= 1000  # the block around the run's end may fail whole
    for scored in (whole, parts):
        table = prodml.load_table(scored.output, client=sqlite_client)
        assert table.column_names == [*table.column_names[:5], *ADDED]
        predictions = table.column("prediction").to_pylist()
        assert predictions[:1000] == [None] * 1000
        assert None not in predictions[1024:]
        assert table.column("proba_leave").null_count == scored.failed
        assert str(table.schema.field("proba_leave").type) == "double"


def test_the_profiles_of_parts_that_all_raised_say_what_one_process_says(
    sqlite_client: Client,
) -> None:
    from prodml.data.stored_profiles import profiles_of

    logged(sqlite_client, _with_holes(np.arange(1000)))
    whole = prodml.score("churn@1", "customers@1", client=sqlite_client)
    parts = prodml.score("churn@1", "customers@1", name="p", partitions=3, client=sqlite_client)

    (one,) = profiles_of(sqlite_client, whole.output)
    (many,) = profiles_of(sqlite_client, parts.output)
    summary = {c["name"]: c for c in many.to_summary()["columns"]}
    expected = {c["name"]: c for c in one.to_summary()["columns"]}
    for key in ("type", "kind", "rows", "nulls", "min", "max"):
        assert summary["prediction"].get(key) == expected["prediction"].get(key), key


def test_a_table_whose_every_row_raises_is_scored_with_null_answers(
    sqlite_client: Client,
) -> None:
    logged(sqlite_client, _with_holes(np.arange(3000)))

    scored = prodml.score("churn@1", "customers@1", partitions=2, client=sqlite_client)

    assert (scored.rows, scored.failed) == (3000, 3000)
    assert scored.first_error is not None and "NaN" in scored.first_error
    table = prodml.load_table(scored.output, client=sqlite_client)
    assert table.column("prediction").null_count == 3000
    assert table.column("proba_stay").null_count == 3000
