"""A loaded predictor enforces the signature the model was logged with: a missing
column or a value of the wrong kind is refused with the column named."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.predict.signature import conform
from prodml.track.model import signature

FEATURES = ["distance", "hour"]


@cache
def _model() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"distance": rng.uniform(100, 3000, 400), "hour": rng.normal(size=400)})
    labels = (frame["distance"] / 1000 + frame["hour"] > 1.5).astype(int)
    return LogisticRegression().fit(frame, labels), frame


def _logged(client: Client) -> LogisticRegression:
    model, frame = _model()
    with prodml.start_run("fit", client=client) as run:
        run.log_model(model, "delay", example=frame.head())
    return model


def test_predict_gives_the_models_answers(client: Client) -> None:
    model, frame = _model()
    _logged(client)
    rows = frame.head(50).assign(carrier="UA")  # extra columns are ignored

    predictor = prodml.load_predictor("delay@1", client=client)

    assert predictor.predict(rows) == model.predict(frame.head(50)).tolist()
    as_dicts = [{"hour": 0.0, "distance": 2900.0}, {"hour": -2.0, "distance": 150.0}]
    assert predictor.predict(as_dicts) == [1, 0]
    assert predictor.ref == "delay@1"


def test_a_missing_column_is_refused_by_name(client: Client) -> None:
    _, frame = _model()
    _logged(client)
    predictor = prodml.load_predictor("delay@1", client=client)

    with pytest.raises(InvalidInputError, match="lacks column\\(s\\) 'hour'") as refused:
        predictor.predict(frame[["distance"]].head())

    assert "The model expects: distance, hour" in str(refused.value)


def test_text_where_a_number_is_expected_is_refused_by_name(client: Client) -> None:
    _, frame = _model()
    _logged(client)
    predictor = prodml.load_predictor("delay@1", client=client)
    rows = frame.head(3).assign(distance=["far", "near", "far"])

    with pytest.raises(InvalidInputError, match="Input column 'distance' to model delay@1"):
        predictor.predict(rows)


def test_conform_orders_columns_drops_extras_and_keeps_numbers_as_sent() -> None:
    example = pa.table({"distance": [1.5], "hour": [3], "carrier": ["UA"]})
    wanted = signature(example)
    table = pa.table(
        {
            "carrier": pa.array(["AA", "DL"]).dictionary_encode(),
            "hour": pa.array([2.0, 7.0]),  # floats where ints were logged
            "distance": pa.array([10, 20], pa.int32()),
            "note": ["x", "y"],
        }
    )

    conformed = conform(table, wanted, "delay@1")

    assert conformed.column_names == ["distance", "hour", "carrier"]
    assert conformed.column("hour").to_pylist() == [2.0, 7.0]
    assert str(conformed.column("carrier").type) == wanted["columns"][2]["type"]  # not dictionary
    assert conformed.column("carrier").to_pylist() == ["AA", "DL"]


def test_conform_refuses_by_column_and_passes_tables_without_a_signature() -> None:
    wanted = signature(pa.table({"distance": [1.5], "carrier": ["UA"]}))

    with pytest.raises(InvalidInputError, match=r"Input column 'carrier'.*Send text values"):
        conform(pa.table({"distance": [1.0], "carrier": [3]}), wanted, "m@1")
    with pytest.raises(InvalidInputError, match="lacks column\\(s\\) 'carrier'"):
        conform(pa.table({"distance": [1.0]}), wanted, "m@1")
    nulls = conform(pa.table({"distance": [None], "carrier": [None]}), wanted, "m@1")
    assert nulls.num_rows == 1
    anything = pa.table({"a": [1]})
    assert conform(anything, {}, "m@1") is anything
