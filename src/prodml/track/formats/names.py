"""The names of the formats a model version records (``environment["format"]``)."""

from __future__ import annotations

from prodml.domain.artifact import PICKLE

ONNX, SKOPS, TORCHSCRIPT = "onnx", "skops", "torchscript"
XGBOOST, LIGHTGBM, CATBOOST = "xgboost-ubj", "lightgbm-text", "catboost-cbm"
BOOSTERS = (XGBOOST, LIGHTGBM, CATBOOST)
FORMATS = (ONNX, *BOOSTERS, TORCHSCRIPT, SKOPS, PICKLE)

__all__ = [
    "BOOSTERS",
    "CATBOOST",
    "FORMATS",
    "LIGHTGBM",
    "ONNX",
    "PICKLE",
    "SKOPS",
    "TORCHSCRIPT",
    "XGBOOST",
]
