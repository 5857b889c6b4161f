"""Open Inference Protocol (v2) requests read into the gateway's rows.

A request's inputs are either one tensor per signature column (named for it, shape
[N] or [N, 1]) or one 2-D tensor [N, k] whose k columns are the signature's in
order, as tabular clients and MLServer send a batch; a tensor model takes its one
[N, width] tensor. Data comes as JSON (nested by row or flat in row-major order)
or, with the binary extension, as raw bytes after the JSON header. A JSON value is
judged by the signature afterwards, as in every other body shape; a binary one is
read as its datatype says. ``outputs`` and ``parameters`` say which outputs come
back and which of them as binary."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prodml.serve import oip_binary
from prodml.serve.inputs import MAX_FIELDS, MAX_ROWS, InputSpec, Rejected

MAX_OUTPUTS = 16


@dataclass(frozen=True)
class Tensor:
    """One input: its values flat in row-major order and its shape."""

    name: str
    shape: tuple[int, ...]
    values: list[Any]
    field: str  # where it sits in the request: inputs[i]


@dataclass(frozen=True)
class Requested:
    """One output a request asks for, and whether it wants it as binary."""

    name: str
    binary: bool


@dataclass(frozen=True)
class Inference:
    rows: list[Any]
    outputs: list[Requested] | None  # None: every output the model has
    binary: bool  # the request-level binary_data_output


def read(body: Any, rest: memoryview, spec: InputSpec, outputs: tuple[str, ...]) -> Inference:
    """An infer request (its JSON header and the binary bytes after it) as rows for
    ``spec``, with the outputs it asks for among ``outputs``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), list):
        raise Rejected("An infer request needs 'inputs': a list of named tensors.", "inputs")
    binary = _flag(_parameters(body, "parameters"), "binary_data_output", "parameters")
    tensors = _tensors(body["inputs"], rest)
    return Inference(_rows(tensors, spec), _requested(body.get("outputs"), outputs, binary), binary)


def _parameters(holder: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    parameters = holder.get("parameters")
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise Rejected(f"{field} must be an object.", field)
    return parameters


def _flag(parameters: Mapping[str, Any], key: str, field: str) -> bool:
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        raise Rejected(f"{field}.{key} must be true or false.", f"{field}.{key}")
    return value


def _tensors(inputs: list[Any], rest: memoryview) -> list[Tensor]:
    if not inputs:
        raise Rejected("'inputs' is empty; send at least one tensor.", "inputs")
    if len(inputs) > MAX_FIELDS:
        raise Rejected(
            f"'inputs' holds {len(inputs):,} tensors; the limit is {MAX_FIELDS:,}.", "inputs", 413
        )
    seen: dict[str, int] = {}
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, Mapping) or not isinstance(tensor.get("name"), str):
            raise Rejected(f"inputs[{index}] needs a 'name'.", f"inputs[{index}].name")
        first = seen.setdefault(tensor["name"], index)
        if first != index:
            raise Rejected(
                f"inputs[{index}] is named {tensor['name'][:40]!r}, as inputs[{first}] is; "
                "send each input once.",
                f"inputs[{index}].name",
            )
    sizes = [oip_binary.binary_size(t, f"inputs[{i}]") for i, t in enumerate(inputs)]
    parts = oip_binary.cut(sizes, rest)
    pairs = enumerate(zip(inputs, parts, strict=True))
    return [_tensor(tensor, f"inputs[{i}]", part) for i, (tensor, part) in pairs]


def _tensor(tensor: Mapping[str, Any], field: str, part: memoryview | None) -> Tensor:
    name = tensor["name"]
    declared = tensor.get("shape")
    if part is not None:  # binary: the datatype and shape say how to read the bytes
        datatype = oip_binary.datatype_of(tensor, field, required=True)
        shape = oip_binary.shape_of(declared, f"{field}.shape")
        if "data" in tensor:
            raise Rejected(
                f"{field} has both 'data' and a binary_data_size; send one.", f"{field}.data"
            )
        assert datatype is not None
        values = oip_binary.decode(part, datatype, math.prod(shape), field)
        return Tensor(name, shape, values, field)
    oip_binary.datatype_of(tensor, field, required=False)
    values, nested = _json_data(tensor.get("data"), name, field)
    if declared is None:
        return Tensor(name, nested, values, field)
    shape = oip_binary.shape_of(declared, f"{field}.shape")
    if math.prod(shape) != len(values):
        raise Rejected(
            f"{field} ({name[:40]}) has shape {list(shape)}, which makes {math.prod(shape):,} "
            f"values, but its data holds {len(values):,}.",
            f"{field}.shape",
        )
    return Tensor(name, shape, values, field)


def _json_data(data: Any, name: str, field: str) -> tuple[list[Any], tuple[int, ...]]:
    """JSON data flat in row-major order, and the shape its nesting shows."""
    if not isinstance(data, list):
        raise Rejected(f"{field} ({name[:40]}) needs 'data', a list.", f"{field}.data")
    if len(data) > MAX_ROWS * MAX_FIELDS:
        raise Rejected(f"{field} holds {len(data):,} values.", f"{field}.data", 413)
    if not data or not all(isinstance(item, list) for item in data):
        return data, (len(data),)
    width = len(data[0])
    if any(len(item) != width for item in data):
        raise Rejected(f"{field} ({name[:40]}) has rows of unequal length.", f"{field}.data")
    return [value for item in data for value in item], (len(data), width)


def _rows(tensors: list[Tensor], spec: InputSpec) -> list[Any]:
    if spec.tensor:
        return _tensor_rows(tensors, spec.width)
    if spec.names and _one_table(tensors, spec):
        return _table_rows(tensors[0], spec)
    return _column_rows(tensors)


def _one_table(tensors: list[Tensor], spec: InputSpec) -> bool:
    """Is the request one 2-D tensor of the signature's columns in order? Yes when it
    is the only input and has more than one column, or is not named for a column."""
    if len(tensors) != 1:
        return False
    (tensor,) = tensors
    wide = len(tensor.shape) == 2 and tensor.shape[1] != 1
    return wide or tensor.name not in spec.types


def _table_rows(tensor: Tensor, spec: InputSpec) -> list[Any]:
    width = tensor.shape[1] if len(tensor.shape) == 2 else 1
    if width != len(spec.names):
        raise Rejected(
            f"{tensor.field} ({tensor.name[:40]}) has shape {list(tensor.shape)}: {width} "
            f"value(s) a row, but model {spec.ref} takes {len(spec.names)} columns in this "
            f"order: {', '.join(spec.names)}. Send one [N, {len(spec.names)}] tensor, or one "
            "tensor per column named for it.",
            f"{tensor.field}.shape",
        )
    _bounded(len(tensor.values) // max(width, 1), tensor.field)
    values, names = tensor.values, spec.names
    return [
        dict(zip(names, values[start : start + width], strict=True))
        for start in range(0, len(values), width)
    ]


def _column_rows(tensors: list[Tensor]) -> list[Any]:
    columns: dict[str, list[Any]] = {}
    for tensor in tensors:
        if len(tensor.shape) == 2 and tensor.shape[1] != 1:
            raise Rejected(
                f"{tensor.field} ({tensor.name[:40]}) has shape {list(tensor.shape)}; a column's "
                "tensor is [N] or [N, 1]. Send one 2-D tensor alone, or one tensor per column.",
                f"{tensor.field}.shape",
            )
        _bounded(len(tensor.values), tensor.field)
        columns[tensor.name] = tensor.values
    if len({len(values) for values in columns.values()}) > 1:
        raise Rejected("Every input tensor must hold one value per row.", "inputs")
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _tensor_rows(tensors: list[Tensor], width: int) -> list[Any]:
    """The rows of a model taking one [N, width] tensor: its data nested by row, or
    flat in row-major order as the protocol allows."""
    if len(tensors) != 1:
        raise Rejected("This model takes one input tensor of shape [N, width].", "inputs")
    (tensor,) = tensors
    values = tensor.values
    if not values:
        raise Rejected("inputs[0] needs 'data', a non-empty list.", "inputs[0].data")
    if len(tensor.shape) == 2:
        if 0 < width != tensor.shape[1]:
            raise Rejected(
                f"inputs[0] has shape {list(tensor.shape)}; this model takes rows of {width}.",
                "inputs[0].shape",
            )
        width = tensor.shape[1]
    elif width <= 0 or len(values) % width != 0:
        raise Rejected(
            f"inputs[0].data holds {len(values):,} values, not rows of {width}.", "inputs[0].data"
        )
    if width <= 0:
        raise Rejected("inputs[0] has rows of no values.", "inputs[0].shape")
    _bounded(len(values) // width, "inputs[0]")
    return [values[start : start + width] for start in range(0, len(values), width)]


def _bounded(rows: int, field: str) -> None:
    if rows > MAX_ROWS:
        raise Rejected(
            f"{field} holds {rows:,} rows; send at most {MAX_ROWS:,} per request.",
            f"{field}.data",
            413,
        )


def _requested(asked: Any, known: tuple[str, ...], binary: bool) -> list[Requested] | None:
    """The outputs a request names (None: all of them), each known to the model."""
    if asked is None:
        return None
    if not isinstance(asked, list) or len(asked) > MAX_OUTPUTS:
        raise Rejected(
            f"'outputs' must be a list of at most {MAX_OUTPUTS} requested outputs.", "outputs"
        )
    chosen: list[Requested] = []
    for index, output in enumerate(asked):
        field = f"outputs[{index}]"
        name = output.get("name") if isinstance(output, Mapping) else None
        if name not in known:
            raise Rejected(
                f"{field}.name is {str(name)[:40]!r}; this model's outputs are: "
                f"{', '.join(known)}.",
                f"{field}.name",
            )
        if any(done.name == name for done in chosen):
            raise Rejected(f"{field} asks for {name!r} twice.", f"{field}.name")
        wanted = _parameters(output, f"{field}.parameters").get("binary_data", binary)
        if not isinstance(wanted, bool):
            raise Rejected(
                f"{field}.parameters.binary_data must be true or false.",
                f"{field}.parameters.binary_data",
            )
        chosen.append(Requested(name, wanted))
    return chosen
