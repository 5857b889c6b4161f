"""ONNX: a graph of operators that onnxruntime executes; loading it runs no Python.

Logged as given (an ``onnx.ModelProto`` or its bytes), converted from scikit-learn
with skl2onnx (checked against the model's own answers on the example before it is
kept), or exported from a PyTorch module with its example. Served by
``InferenceSession.run`` on the numpy batch: one input takes the batch as a 2-D
array of its element type, several inputs take a column each, by name."""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

import numpy as np

from prodml.errors import InvalidInputError
from prodml.track.formats.names import ONNX
from prodml.track.formats.native import (
    NativeClassifier,
    NativeModel,
    Saved,
    classes_of,
    instance_of,
)

PACKAGES = ("onnx", "onnxruntime")
ELEMENT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}
CLASS_LABELS = ("classlabels_int64s", "classlabels_strings")  # ai.onnx.ml classifiers


def is_onnx(model: object) -> bool:
    return instance_of(model, "onnx", "ModelProto") or (
        isinstance(model, bytes | bytearray) and _parses(bytes(model))
    )


def _parses(payload: bytes) -> bool:
    try:
        import onnx
    except ImportError:
        return False
    try:
        proto = onnx.load_model_from_string(payload)
    except Exception:
        return False
    return len(proto.graph.node) > 0


def save(model: Any) -> Saved:
    """An ONNX model as it is, with the class labels its graph declares."""
    import onnx

    proto = model if isinstance(model, onnx.ModelProto) else onnx.load_model_from_string(model)
    classes = _graph_classes(proto)
    details = {} if classes is None else {"classes": classes}
    return Saved(ONNX, proto.SerializeToString(), details, PACKAGES)


def _graph_classes(proto: Any) -> list[Any] | None:
    for node in proto.graph.node:
        for attribute in node.attribute:
            if attribute.name == "classlabels_int64s" and attribute.ints:
                return list(attribute.ints)
            if attribute.name == "classlabels_strings" and attribute.strings:
                return [text.decode() for text in attribute.strings]
    return None


def from_sklearn(model: Any, example: np.ndarray, name: str) -> Saved:
    """The estimator converted with skl2onnx on the example's element type; refused when
    it cannot be converted or answers the example differently from the estimator."""
    try:
        from skl2onnx import to_onnx
    except ImportError:
        raise InvalidInputError(
            f"Model {name!r} cannot be saved as ONNX without skl2onnx: pip install "
            "'prodml[onnx]', or log it without format= (pickled; skops where pickle is refused)."
        ) from None
    classes = classes_of(model)
    options = {id(model): {"zipmap": False}} if classes is not None else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proto = to_onnx(model, example[:1], options=options, target_opset=None)
    except Exception as error:
        raise InvalidInputError(
            f"Model {name!r} cannot be converted to ONNX by skl2onnx: {error}. "
            "Log it without format= (pickled; skops where pickle is refused)."
        ) from None
    saved = Saved(ONNX, proto.SerializeToString(), {}, (*PACKAGES, "skl2onnx"))
    if classes is not None:
        saved.details["classes"] = classes
    _check_same_answers(model, load(saved.payload, saved.details), example, name)
    return saved


def _check_same_answers(model: Any, converted: NativeModel, example: Any, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a model fitted on a DataFrame, given the array
        _compare(model, converted, example, name)


def _compare(model: Any, converted: NativeModel, example: Any, name: str) -> None:
    expected = np.asarray(model.predict(example))
    answers = converted.predict(example)
    same = (
        np.array_equal(answers, expected)
        if isinstance(converted, NativeClassifier)
        else np.allclose(answers, expected, rtol=1e-5, atol=1e-6)
    )
    if isinstance(converted, NativeClassifier) and same:
        same = np.allclose(
            converted.predict_proba(example), model.predict_proba(example), atol=1e-5
        )
    if not same:
        raise InvalidInputError(
            f"Model {name!r} converted to ONNX answers the example differently from the "
            "model itself; log it without format= (pickled; skops where pickle is refused)."
        )


def from_torch(module: Any, example: Any, name: str) -> Saved:
    """A PyTorch module exported to ONNX by tracing it on the example (rows may vary)."""
    import torch

    tensor = torch.as_tensor(np.asarray(example), dtype=torch.float32)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(),
                (tensor,),
                buffer,  # type: ignore[arg-type]  # a file object is written to, as documented
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "rows"}, "output": {0: "rows"}},
            )
    except Exception as error:
        raise InvalidInputError(
            f"Model {name!r} cannot be exported to ONNX: {error}. "
            "Log it as TorchScript (format='torchscript') instead."
        ) from None
    return Saved(ONNX, buffer.getvalue(), {}, (*PACKAGES, "torch"))


def load(payload: bytes, details: dict[str, Any]) -> NativeModel:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, len(os.sched_getaffinity(0)))
    session = onnxruntime.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
    runner = _Runner(session)
    classes = details.get("classes")
    if classes is None:
        return NativeModel(ONNX, runner.first, session)
    labels = runner.labels if runner.label_output is not None else None
    return NativeClassifier(ONNX, runner.probabilities, classes, labels, session)


class _Runner:
    """Feeds a batch to the session and picks its outputs: the first for values or
    labels, the first 2-D (or sequence of maps) output for class probabilities."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = [
            (i.name, ELEMENT_TYPES.get(i.type, np.float32)) for i in session.get_inputs()
        ]
        outputs = session.get_outputs()
        self.first_output = outputs[0].name
        self.label_output = outputs[0].name if len(outputs) > 1 else None
        ranked = [o.name for o in outputs if o.type.startswith("seq") or len(o.shape or []) == 2]
        self.proba_output = ranked[-1] if ranked else outputs[-1].name

    def feed(self, batch: Any) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:
            name, kind = self.inputs[0]
            return {name: np.asarray(batch, dtype=kind)}
        if hasattr(batch, "columns") and not isinstance(batch, np.ndarray):
            return {
                name: np.asarray(batch[name], dtype=kind).reshape(-1, 1)
                for name, kind in self.inputs
            }
        array = np.asarray(batch)
        return {
            name: array[:, index].astype(kind).reshape(-1, 1)
            for index, (name, kind) in enumerate(self.inputs)
        }

    def _run(self, output: str, batch: Any) -> Any:
        return self.session.run([output], self.feed(batch))[0]

    def first(self, batch: Any) -> np.ndarray:
        return np.asarray(self._run(self.first_output, batch))

    def labels(self, batch: Any) -> np.ndarray:
        assert self.label_output is not None
        return np.asarray(self._run(self.label_output, batch))

    def probabilities(self, batch: Any) -> np.ndarray:
        found = self._run(self.proba_output, batch)
        if isinstance(found, list):  # skl2onnx's ZipMap: one {class: probability} per row
            keys = list(found[0]) if found else []
            return np.array([[row[key] for key in keys] for row in found], dtype=np.float64)
        return np.asarray(found)
