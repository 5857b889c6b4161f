"""What an Open Inference Protocol (v2) answer holds: the ``predict`` output, typed
as the model returns it (INT64 for integer class labels, FP64 or FP32 for scores,
BYTES for text, BOOL), and, for a model with ``predict_proba``, a
``probabilities`` output of shape [N, classes] in FP64; model metadata declares
them the same way. Each output goes back as JSON or, when asked, as binary after
the JSON header."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from prodml.predict.predictor import robust
from prodml.serve import oip_binary
from prodml.serve.oip import Requested
from prodml.serve.served import Served
from prodml.serve.values import INT64

PREDICT = "predict"
PROBABILITIES = "probabilities"


@dataclass(frozen=True)
class Output:
    name: str
    datatype: str
    shape: list[int]
    data: list[Any]  # flat, row-major
    parameters: dict[str, Any] = field(default_factory=dict)


def names(served: Served) -> tuple[str, ...]:
    """The outputs a version gives."""
    return (PREDICT, PROBABILITIES) if _has_probabilities(served) else (PREDICT,)


def _has_probabilities(served: Served) -> bool:
    return callable(getattr(served.predictor.model, "predict_proba", None))


def declared(served: Served) -> list[dict[str, Any]]:
    """The outputs as model metadata declares them."""
    shown = [{"name": PREDICT, "datatype": label_datatype(served), "shape": [-1]}]
    if _has_probabilities(served):
        width = len(_classes(served)) or -1
        shown.append({"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, width]})
    return shown


def label_datatype(served: Served) -> str:
    """What the model's ``predict`` returns: its classes' type for a classifier,
    FP64 for a regressor (or any model that does not say)."""
    classes = getattr(served.predictor.model, "classes_", None)
    if classes is None:
        return "FP64"
    return _numpy_datatype(np.asarray(classes).dtype)


def _numpy_datatype(dtype: np.dtype[Any]) -> str:
    if dtype.kind == "b":
        return "BOOL"
    if dtype.kind == "u" and dtype.itemsize == 8:
        return "UINT64"  # its labels may pass the int64 range
    if dtype.kind in "iu":
        return "INT64"
    if dtype.kind == "f":
        return "FP32" if dtype.itemsize <= 4 else "FP64"
    return "BYTES"


def _classes(served: Served) -> list[Any]:
    classes = getattr(served.predictor.model, "classes_", None)
    return [] if classes is None else np.asarray(classes).tolist()


def predict_output(answers: list[Any], served: Served | None) -> Output:
    """The answers, typed as the version declares when they fit (a fallback's
    default may not), else as the values are."""
    wanted = label_datatype(served) if served is not None else None
    datatype = wanted if wanted and _fits(answers, wanted) else _datatype_of(answers)
    return Output(PREDICT, datatype, [len(answers)], answers)


def _fits(answers: list[Any], datatype: str) -> bool:
    if datatype == "INT64":
        return all(type(a) is int and -INT64 <= a < INT64 for a in answers)
    if datatype == "UINT64":
        return all(type(a) is int and 0 <= a < 2 * INT64 for a in answers)
    if datatype.startswith("FP"):
        return all(a is None or (type(a) in (int, float)) for a in answers)
    if datatype == "BOOL":
        return all(type(a) is bool for a in answers)
    return all(a is None or isinstance(a, str) for a in answers)


def _datatype_of(answers: list[Any]) -> str:
    for datatype in ("BOOL", "INT64", "FP64"):
        if _fits(answers, datatype):
            return datatype
    return "BYTES"


async def probabilities(served: Served | None, rows: list[Any]) -> Output:
    """Class probabilities of ``served`` for the rows, from a thread off the event
    loop; NaN (null in JSON) where the model raised or no model answered."""
    if served is None or not _has_probabilities(served):
        return Output(PROBABILITIES, "FP64", [len(rows), 0], [])
    proba = await asyncio.to_thread(_proba, served, rows)
    classes = _classes(served)
    return Output(
        PROBABILITIES, "FP64", list(proba.shape), proba.ravel().tolist(), {"classes": classes}
    )


def _proba(served: Served, rows: list[Any]) -> np.ndarray:
    model = served.predictor.model
    outputs, failed, _ = robust(model.predict_proba, served.spec.model_input(rows), len(rows))
    width = len(_classes(served)) or (outputs.shape[1] if outputs.ndim == 2 else 0)
    if outputs.ndim != 2 or len(outputs) != len(rows):
        return np.full((len(rows), width), np.nan)
    proba = outputs.astype(np.float64)
    proba[failed] = np.nan
    return proba


def wanted(
    requested: list[Requested] | None, available: tuple[str, ...], binary: bool
) -> list[Requested]:
    """The outputs to send: those asked for, or every output the model has."""
    if requested is not None:
        return requested
    return [Requested(name, binary) for name in available]


def body(head: dict[str, Any], outputs: list[tuple[Output, bool]]) -> tuple[bytes, int | None]:
    """The response body, and the length of its JSON header when some output is
    binary (then its bytes follow the header, in output order)."""
    shown, raw = [], []
    for output, binary in outputs:
        tensor: dict[str, Any] = {
            "name": output.name, "datatype": output.datatype, "shape": output.shape,
        }  # fmt: skip
        parameters = dict(output.parameters)
        if binary:
            blob = oip_binary.encode(output.data, output.datatype)
            parameters["binary_data_size"] = len(blob)
            raw.append(blob)
        else:
            tensor["data"] = output.data
        if parameters:
            tensor["parameters"] = parameters
        shown.append(tensor)
    header = orjson.dumps({**head, "outputs": shown}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not raw:
        return header, None
    return header + b"".join(raw), len(header)
