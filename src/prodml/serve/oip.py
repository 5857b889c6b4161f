"""The Open Inference Protocol (v2) shapes: tensors in, tensors out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodml.serve.inputs import MAX_ROWS, Rejected, family
from prodml.serve.served import Served

DATATYPES = {"number": "FP64", "text": "BYTES", "time": "BYTES", "any": "BYTES"}


def records(body: Any, width: int | None = None) -> list[Any]:
    """An infer request's named input tensors as records (one value per row each);
    for a tensor model (``width`` values a row), its one tensor's rows."""
    if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), list):
        raise Rejected("An infer request needs 'inputs': a list of named tensors.", "inputs")
    if width is not None:
        return _tensor_rows(body["inputs"], width)
    columns: dict[str, list[Any]] = {}
    for index, tensor in enumerate(body["inputs"]):
        if not isinstance(tensor, Mapping) or not isinstance(tensor.get("name"), str):
            raise Rejected(f"inputs[{index}] needs a 'name'.", f"inputs[{index}].name")
        data = tensor.get("data")
        if not isinstance(data, list):
            raise Rejected(
                f"inputs[{index}] ({tensor['name']}) needs 'data', a list.", f"inputs[{index}].data"
            )
        if len(data) > MAX_ROWS:
            raise Rejected(
                f"inputs[{index}] holds {len(data):,} values; send at most {MAX_ROWS:,} rows.",
                f"inputs[{index}].data",
                413,
            )
        columns[tensor["name"]] = _flat(data)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise Rejected("Every input tensor must hold one value per row.", "inputs")
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _tensor_rows(inputs: list[Any], width: int) -> list[Any]:
    """The rows of a model taking one [N, width] tensor: its data nested by row, or
    flat in row-major order as the protocol allows."""
    if len(inputs) != 1 or not isinstance(inputs[0], Mapping):
        raise Rejected("This model takes one input tensor of shape [N, width].", "inputs")
    data = inputs[0].get("data")
    if not isinstance(data, list) or not data:
        raise Rejected("inputs[0] needs 'data', a non-empty list.", "inputs[0].data")
    if all(isinstance(item, list) for item in data):
        rows = data
    elif width > 0 and len(data) % width == 0:
        rows = [data[start : start + width] for start in range(0, len(data), width)]
    else:
        raise Rejected(
            f"inputs[0].data holds {len(data):,} values, not rows of {width}.", "inputs[0].data"
        )
    if len(rows) > MAX_ROWS:
        raise Rejected(
            f"inputs[0] holds {len(rows):,} rows; send at most {MAX_ROWS:,}.", "inputs[0].data", 413
        )
    return rows


def _flat(data: list[Any]) -> list[Any]:
    if data and all(isinstance(item, list) and len(item) == 1 for item in data):
        return [item[0] for item in data]
    return data


def response(
    model: str, version: int | None, request_id: str, answers: list[Any]
) -> dict[str, Any]:
    numeric = all(isinstance(a, int | float) or a is None for a in answers)
    return {
        "model_name": model,
        "model_version": None if version is None else str(version),
        "id": request_id,
        "outputs": [
            {
                "name": "predict",
                "shape": [len(answers)],
                "datatype": "FP64" if numeric else "BYTES",
                "data": answers,
            }
        ],
    }


def metadata(served: Served) -> dict[str, Any]:
    signature = served.version.signature or {}
    inputs = [
        {"name": c["name"], "datatype": DATATYPES[family(c["type"])], "shape": [-1]}
        for c in signature.get("columns", [])
    ]
    return {
        "name": served.version.name,
        "versions": [str(served.number)],
        "platform": served.version.flavor,
        "inputs": inputs,
        "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
    }
