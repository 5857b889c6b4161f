"""PyTorch modules as TorchScript: traced (or scripted) with the declared example and
saved by ``torch.jit.save``. TorchScript is a program that the loader runs, so a
TorchScript version needs trust like pickle (``allow_pickle``); export the module to
ONNX (``format="onnx"``) to serve it without trusting it."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from prodml.errors import InvalidInputError
from prodml.track.formats.names import TORCHSCRIPT
from prodml.track.formats.native import NativeModel, Saved, instance_of


def is_module(model: object) -> bool:
    return instance_of(model, "torch.nn", "Module") or instance_of(
        model, "torch.jit", "ScriptModule"
    )


def save(module: Any, example: Any, name: str) -> Saved:
    import torch

    if example is None and not isinstance(module, torch.jit.ScriptModule):
        raise InvalidInputError(
            f"Model {name!r} is a PyTorch module: give an example batch to trace it with, "
            f"e.g. run.log_model(module, {name!r}, example=rows)."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notices
        try:
            program = (
                module if isinstance(module, torch.jit.ScriptModule) else _trace(module, example)
            )
        except Exception as error:
            raise InvalidInputError(
                f"Model {name!r} cannot be traced on its example: {error}. Script it first "
                "(torch.jit.script(module)) and log the scripted module."
            ) from None
        buffer = io.BytesIO()
        torch.jit.save(program, buffer)
    return Saved(TORCHSCRIPT, buffer.getvalue(), {"dtype": "float32"}, ["torch"])


def _trace(module: Any, example: Any) -> Any:
    import torch

    tensor = torch.as_tensor(np.asarray(example), dtype=torch.float32)
    with torch.no_grad():
        return torch.jit.trace(module.eval(), tensor)  # type: ignore[no-untyped-call]


def load(payload: bytes) -> NativeModel:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.jit.load(io.BytesIO(payload), map_location="cpu")  # type: ignore[no-untyped-call]
    program.eval()

    def scores(batch: Any) -> np.ndarray:
        tensor = torch.as_tensor(np.asarray(batch, dtype=np.float32))
        with torch.no_grad():
            return np.asarray(program(tensor).numpy())

    return NativeModel(TORCHSCRIPT, scores, program)
