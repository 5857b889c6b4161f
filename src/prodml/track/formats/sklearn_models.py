"""scikit-learn estimators and pipelines with skops: a zip of JSON and numpy arrays
whose loader builds only the types it trusts (scikit-learn's, numpy's, and a short
list of others); a blob that names any other type is refused when loaded. A model
whose parts skops would not trust (a custom transformer, a lambda) is logged as
pickle instead. ONNX (``format="onnx"``) converts it with skl2onnx."""

from __future__ import annotations

from typing import Any

from prodml.errors import DataReadError
from prodml.track.formats.names import SKOPS
from prodml.track.formats.native import Saved


def is_sklearn(model: object) -> bool:
    return type(model).__module__.split(".")[0] == "sklearn"


def save(model: Any) -> Saved | None:
    """The estimator in skops, or None when skops is missing or would not trust it."""
    try:
        import skops.io
    except ImportError:
        return None
    try:
        payload = skops.io.dumps(model)
    except Exception:  # a part skops cannot write: pickle it
        return None
    if skops.io.get_untrusted_types(data=payload):
        return None
    return Saved(SKOPS, payload, {}, ["skops", "scikit-learn"])


def load(payload: bytes, ref: str) -> Any:
    """The estimator, built from trusted types only."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=payload)
    if untrusted:
        raise DataReadError(
            f"Model {ref} is stored in skops but names types skops does not trust: "
            f"{', '.join(untrusted)}. It was not loaded. Log the model again from its "
            "source; a blob logged by prodml holds only trusted types."
        )
    return skops.io.loads(payload)
