"""Model formats: each model saved in its library's own format where it has one, and
loaded without running code from the blob unless its format needs trust.

| model | format (default first) | needs trust |
| --- | --- | --- |
| ``onnx.ModelProto`` or ONNX bytes | ``onnx`` | no |
| XGBoost, LightGBM, CatBoost | ``xgboost-ubj``, ``lightgbm-text``, ``catboost-cbm`` | no |
| PyTorch module (with an example) | ``torchscript``; ``onnx`` | TorchScript: yes |
| scikit-learn estimator or pipeline | ``pickle``; ``skops``; ``onnx`` (1) | pickle: yes |
| anything else with ``predict`` | ``pickle`` | yes |

A format needing trust is refused at load when the setting ``allow_pickle`` is false.

(1) A scikit-learn model is saved with skops instead of pickle when the logging
client's ``allow_pickle`` is false (or on ``format="skops"``): skops loads without
running code, but importing it imports every scikit-learn module (and PyTorch when it
is installed), 3-5 s in each process that logs or loads such a model, where pickle
costs nothing. A team that refuses pickle pays it; one that trusts its store does not.
Each library is imported only when a model of its format is logged or loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prodml.domain.artifact import NEEDS_TRUST
from prodml.errors import DataReadError, InvalidInputError
from prodml.track.formats.names import BOOSTERS, FORMATS, ONNX, PICKLE, SKOPS, TORCHSCRIPT

if TYPE_CHECKING:  # numpy and each library load only when a model is saved or loaded
    import numpy as np

    from prodml.track.formats.native import Saved

DETAILS = "format_details"  # the environment key of what a format's loader needs

__all__ = ["DETAILS", "FORMATS", "ONNX", "PICKLE", "load", "save"]


def save(
    model: Any,
    name: str,
    example: Any = None,
    model_format: str | None = None,
    allow_pickle: bool = True,
) -> Saved:
    """The model in ``model_format``, or in the first format of its row in the table
    (without ``allow_pickle``, the first that needs no trust where there is one)."""
    if model_format is not None and model_format not in FORMATS:
        raise InvalidInputError(
            f"Model {name!r}: no format {model_format!r}. Formats: {', '.join(FORMATS)}."
        )
    saved = _save(model, name, example, model_format, allow_pickle)
    if model_format is not None and saved.format != model_format:
        raise InvalidInputError(
            f"Model {name!r} ({type(model).__name__}) cannot be saved as {model_format!r}; "
            f"it saves as {saved.format!r}. Log it without format=."
        )
    return saved


def _save(
    model: Any, name: str, example: Any, model_format: str | None, allow_pickle: bool
) -> Saved:
    from prodml.track.formats import boosters, onnx_models, pickled, sklearn_models, torch_models

    if model_format == PICKLE:
        return pickled.save(_with_predict(model, name), name)
    if onnx_models.is_onnx(model):
        return onnx_models.save(model)
    if torch_models.is_module(model):
        if model_format == ONNX:
            return onnx_models.from_torch(model, _needed(example, name), name)
        return torch_models.save(model, example, name)
    booster = boosters.save(model)
    if booster is not None:
        return booster
    if sklearn_models.is_sklearn(model):
        if model_format == ONNX:
            return onnx_models.from_sklearn(model, _numbers(example, name), name)
        wanted = model_format == SKOPS or (model_format is None and not allow_pickle)
        skops = sklearn_models.save(model) if wanted else None
        if skops is not None:
            return skops
    return pickled.save(_with_predict(model, name), name)


def load(payload: bytes, ref: str, environment: dict[str, Any], allow_pickle: bool) -> Any:
    """The model of a version (``ref`` names it in errors), refused when its format
    needs trust and ``allow_pickle`` is false."""
    model_format = str(environment.get("format", PICKLE))
    if model_format in NEEDS_TRUST and not allow_pickle:
        raise DataReadError(
            f"Model {ref} is stored as {model_format}, which runs code when it is loaded, and "
            "the setting allow_pickle is false. Log the model again in a format that loads "
            "without running code (ONNX, skops, a booster's own), or set allow_pickle = true "
            "(PRODML_ALLOW_PICKLE=true) if you trust it."
        )
    details = environment.get(DETAILS, {})
    try:
        return _load(model_format, payload, ref, environment, details)
    except ImportError as error:
        raise DataReadError(
            f"Model {ref} is stored as {model_format} and needs {error.name or error}: "
            f"install it (pip install 'prodml[{_extra(model_format)}]')."
        ) from None


def _load(
    model_format: str, payload: bytes, ref: str, environment: dict[str, Any], details: Any
) -> Any:
    from prodml.track.formats import boosters, onnx_models, pickled, sklearn_models, torch_models

    if model_format == PICKLE:
        return pickled.load(payload, ref, environment)
    if model_format == ONNX:
        return onnx_models.load(payload, details)
    if model_format in BOOSTERS:
        return boosters.load(model_format, payload, details)
    if model_format == TORCHSCRIPT:
        return torch_models.load(payload)
    if model_format == SKOPS:
        return sklearn_models.load(payload, ref)
    raise DataReadError(
        f"Model {ref} is stored as {model_format!r}, a format this prodml does not read. "
        "Upgrade prodml."
    )


def _extra(model_format: str) -> str:
    return model_format.split("-")[0].replace("torchscript", "torch")


def _with_predict(model: Any, name: str) -> Any:
    if not callable(getattr(model, "predict", None)):
        raise InvalidInputError(
            f"Model {name!r} ({type(model).__name__}) has no predict method. Log an object "
            "with predict(), e.g. a scikit-learn estimator, or use run.log_artifact."
        )
    return model


def _needed(example: Any, name: str) -> Any:
    if example is None:
        raise InvalidInputError(
            f"Model {name!r} needs an example batch to be exported: "
            f"run.log_model(model, {name!r}, example=rows, format='onnx')."
        )
    return example


def _numbers(example: Any, name: str) -> np.ndarray:
    """The example as a 2-D array of numbers, as ONNX takes it."""
    import numpy as np

    example = _needed(example, name)
    if isinstance(example, dict):
        array = np.column_stack([np.asarray(v) for v in example.values()])
    elif hasattr(example, "schema") and hasattr(example, "columns"):
        array = np.column_stack([c.to_numpy(zero_copy_only=False) for c in example.columns])
    else:
        array = np.asarray(example.to_numpy() if hasattr(example, "to_numpy") else example)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"Model {name!r} can be converted to ONNX only with an example of numeric "
            "columns; log it without format= (pickled; skops where pickle is refused)."
        )
    return array.astype(np.float32 if array.dtype == np.float32 else np.float64)
