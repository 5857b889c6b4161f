"""Models: serialised with pickle, stored with the versions they need and an
input signature inferred from an example."""

from __future__ import annotations

import pickle
import platform
from typing import Any

from prodml.errors import DataReadError, InvalidInputError
from prodml.track.environment import package_version


def flavor(model: object) -> str:
    module = type(model).__module__.split(".")[0]
    return "sklearn" if module == "sklearn" else f"python:{module}"


def serialise(model: object, name: str) -> bytes:
    if not callable(getattr(model, "predict", None)):
        raise InvalidInputError(
            f"Model {name!r} ({type(model).__name__}) has no predict method. Log an object "
            "with predict(), e.g. a scikit-learn estimator, or use run.log_artifact."
        )
    try:
        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise InvalidInputError(
            f"Model {name!r} cannot be serialised: {error}. Make it picklable "
            "(no open files, lambdas or locks as attributes)."
        ) from None


def deserialise(data: bytes, ref: str, environment: dict[str, Any]) -> Any:
    """The model object; a class that cannot be imported here is named with the
    versions the model was logged with."""
    try:
        return pickle.loads(data)
    except (AttributeError, ImportError, pickle.UnpicklingError, EOFError) as error:
        packages = ", ".join(f"{k} {v}" for k, v in environment.get("packages", {}).items())
        raise DataReadError(
            f"Model {ref} cannot be loaded here: {error}. Make the module that defines its "
            f"class importable (it was logged with Python {environment.get('python', '?')}"
            f"{'; ' + packages if packages else ''})."
        ) from None


def model_environment(model: object) -> dict[str, Any]:
    packages = {type(model).__module__.split(".")[0], "numpy", "scipy", "scikit-learn", "pandas"}
    versions = {name: package_version(name) for name in sorted(packages)}
    return {
        "python": platform.python_version(),
        "packages": {name: version for name, version in versions.items() if version},
    }


def signature(example: Any) -> dict[str, Any]:
    """Input columns and types from an example batch (a table, dict of columns or array)."""
    if example is None:
        return {}
    from prodml.data.tables import to_arrow

    if hasattr(example, "shape") and hasattr(example, "dtype"):
        shape = list(example.shape)
        return {"kind": "tensor", "dtype": str(example.dtype), "shape": [-1, *shape[1:]]}
    if isinstance(example, dict):
        import pyarrow as pa

        table = pa.table(
            {
                key: list(value) if not hasattr(value, "__array__") else value
                for key, value in example.items()
            }
        )
    else:
        table = to_arrow(example, "example")
    return {
        "kind": "columns",
        "columns": [
            {
                "name": field.name,
                "type": str(field.type),
                "nullable": table.column(field.name).null_count > 0,
            }
            for field in table.schema
        ],
    }
