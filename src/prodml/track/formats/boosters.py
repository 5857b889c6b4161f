"""Gradient-boosted trees in their libraries' own formats: XGBoost as UBJSON, LightGBM
as its model text, CatBoost as ``.cbm``. Each is data its library parses; none runs
code when loaded. Loaded boosters predict on the numpy batch (XGBoost in place,
without building a DMatrix); a DataFrame is passed through only when it has columns
that are not numbers (categorical features)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from prodml.track.formats.names import CATBOOST, LIGHTGBM, XGBOOST
from prodml.track.formats.native import (
    NativeClassifier,
    NativeModel,
    Saved,
    classes_of,
    instance_of,
)


def save(model: object) -> Saved | None:
    """The booster in its own format, or None when the model is none of the three."""
    if instance_of(model, "xgboost", "Booster", "XGBModel"):
        return _save_xgboost(model)
    if instance_of(model, "lightgbm", "Booster", "LGBMModel"):
        return _save_lightgbm(model)
    if instance_of(model, "catboost", "CatBoost"):
        return _save_catboost(model)
    return None


def load(model_format: str, payload: bytes, details: dict[str, Any]) -> NativeModel:
    loader = {XGBOOST: _load_xgboost, LIGHTGBM: _load_lightgbm, CATBOOST: _load_catboost}
    return loader[model_format](payload, details)


def _details(model: object) -> dict[str, Any]:
    classes = classes_of(model)
    return {} if classes is None else {"classes": classes}


def _native(model_format: str, scores: Any, details: dict[str, Any], library: Any) -> NativeModel:
    classes = details.get("classes")
    if classes is None:
        return NativeModel(model_format, scores, library)
    return NativeClassifier(model_format, scores, classes, library=library)


def _save_xgboost(model: Any) -> Saved:
    import xgboost

    booster = model if isinstance(model, xgboost.Booster) else model.get_booster()
    return Saved(XGBOOST, bytes(booster.save_raw("ubj")), _details(model), ["xgboost"])


def _load_xgboost(payload: bytes, details: dict[str, Any]) -> NativeModel:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(payload))
    return _native(XGBOOST, booster.inplace_predict, details, booster)


def _save_lightgbm(model: Any) -> Saved:
    import lightgbm

    booster = model if isinstance(model, lightgbm.Booster) else model.booster_
    text = booster.model_to_string().encode()
    return Saved(LIGHTGBM, text, _details(model), ["lightgbm"])


def _load_lightgbm(payload: bytes, details: dict[str, Any]) -> NativeModel:
    import lightgbm

    booster = lightgbm.Booster(model_str=payload.decode())
    return _native(LIGHTGBM, booster.predict, details, booster)


def _save_catboost(model: Any) -> Saved:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.cbm")
        model.save_model(path, format="cbm")
        with open(path, "rb") as handle:
            payload = handle.read()
    return Saved(CATBOOST, payload, _details(model), ["catboost"])


def _load_catboost(payload: bytes, details: dict[str, Any]) -> NativeModel:
    import catboost

    if details.get("classes") is None:
        regressor = catboost.CatBoostRegressor()
        regressor.load_model(blob=payload)
        return NativeModel(CATBOOST, regressor.predict, regressor)
    classifier = catboost.CatBoostClassifier()
    classifier.load_model(blob=payload)
    return NativeClassifier(
        CATBOOST, classifier.predict_proba, details["classes"], library=classifier
    )
