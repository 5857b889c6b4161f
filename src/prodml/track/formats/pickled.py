"""Pickle: any Python object, loaded by running the calls its bytes name. Needs trust
(``allow_pickle``); kept for models no other format holds."""

from __future__ import annotations

import pickle
from typing import Any

from prodml.domain.artifact import PICKLE
from prodml.errors import DataReadError, InvalidInputError
from prodml.track.formats.native import Saved


def save(model: object, name: str) -> Saved:
    try:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise InvalidInputError(
            f"Model {name!r} cannot be serialised: {error}. Make it picklable "
            "(no open files, lambdas or locks as attributes)."
        ) from None
    return Saved(PICKLE, payload)


def load(payload: bytes, ref: str, environment: dict[str, Any]) -> Any:
    """The model object; a class that cannot be imported here is named with the
    versions the model was logged with."""
    try:
        return pickle.loads(payload)
    except (AttributeError, ImportError, pickle.UnpicklingError, EOFError) as error:
        packages = ", ".join(f"{k} {v}" for k, v in environment.get("packages", {}).items())
        raise DataReadError(
            f"Model {ref} cannot be loaded here: {error}. Make the module that defines its "
            f"class importable (it was logged with Python {environment.get('python', '?')}"
            f"{'; ' + packages if packages else ''})."
        ) from None
