"""Models: saved in their library's own format where they have one (``formats``),
stored with the versions they need and an input signature inferred from an example."""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING, Any

from prodml import settings
from prodml.track import formats
from prodml.track.environment import package_version

if TYPE_CHECKING:
    from prodml.track.formats.native import Saved


def flavor(model: object, saved: Saved | None = None) -> str:
    """The library whose model it is: ``sklearn``, ``onnx``, ``torch`` or ``python:MODULE``."""
    module = type(model).__module__.split(".")[0]
    if module == "sklearn":
        return "sklearn"
    if saved is not None and "torch" in saved.packages:
        return "torch"
    if saved is not None and saved.format == formats.ONNX:
        return "onnx"
    return f"python:{module}"


def save(
    model: Any,
    name: str,
    example: Any = None,
    model_format: str | None = None,
    allow_pickle: bool = True,
) -> Saved:
    """The model's bytes in its format (see ``prodml.track.formats``)."""
    return formats.save(model, name, example, model_format, allow_pickle)


def serialise(model: object, name: str) -> bytes:
    """The model pickled (refused without ``predict`` or when it cannot be pickled)."""
    return formats.save(model, name, model_format=formats.PICKLE).payload


def deserialise(
    data: bytes, ref: str, environment: dict[str, Any], allow_pickle: bool | None = None
) -> Any:
    """The model object, read in the format its environment records (pickle when none).
    A format that runs code when loaded is refused when ``allow_pickle`` is false (by
    default, as this process's settings say)."""
    allowed = settings.load().allow_pickle if allow_pickle is None else allow_pickle
    return formats.load(data, ref, environment, allowed)


def model_environment(model: object, saved: Saved | None = None) -> dict[str, Any]:
    """Python and the versions of the libraries the model needs; with ``saved``, its
    format and what the format's loader needs."""
    packages = {type(model).__module__.split(".")[0], "numpy", "scipy", "scikit-learn", "pandas"}
    packages.update(saved.packages if saved is not None else ())
    versions = {name: package_version(name) for name in sorted(packages)}
    environment: dict[str, Any] = {
        "python": platform.python_version(),
        "packages": {name: version for name, version in versions.items() if version},
    }
    if saved is not None:
        environment["format"] = saved.format
        if saved.details:
            environment[formats.DETAILS] = saved.details
    return environment


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
