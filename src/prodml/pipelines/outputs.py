"""What a step returns, stored, and read back for the steps after it.

A step returns one output or a mapping of named ones (``{"train": t1, "valid": t2}``):
a table (Arrow, pandas, polars) becomes a dataset version ``<pipeline>-<step>[-name]``
linked to the step's run; a model (anything with ``predict``) a model version; a
mapping of names to numbers is logged as the run's metrics; any other JSON value
is kept with the cache entry. ``None`` is no output."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodml.client import Client
from prodml.data import datasets, stored_tables, tables
from prodml.data.refs import get_dataset
from prodml.domain.ids import split_ref
from prodml.domain.steps import OutputKind, StepOutput
from prodml.errors import InvalidInputError, echoed
from prodml.names import check_name
from prodml.pipelines.config import canonical
from prodml.track import model as models
from prodml.track.run import ActiveRun

if TYPE_CHECKING:
    from prodml.track.formats.native import Saved

MAX_VALUE_BYTES = 64 * 1024  # a JSON value kept inline; more belongs in a table
ARRAY_HINT = "; an array or a Series as a table: pd.DataFrame(array), series.to_frame()."


@dataclass(frozen=True)
class ModelOutput:
    """A model with a few input rows, so that its version records a signature."""

    model: Any
    example: Any = None


def step_model(model: Any, example: Any = None) -> ModelOutput:
    """Return this from a step to store ``model`` with ``example`` rows as its signature."""
    return ModelOutput(model, example)


def handed_on(value: Any) -> Any:
    """An output as the steps after it in the same run take it: a model, not its wrapper
    (as a later run, reading it back from the store, would give it)."""
    return value.model if isinstance(value, ModelOutput) else value


def named(value: Any) -> dict[str, Any]:
    """A step's return value as named outputs ("" for a single one)."""
    if value is None:
        return {}
    if isinstance(value, Mapping) and not _metrics(value):
        return {str(name): _collected(item) for name, item in value.items() if item is not None}
    return {"": _collected(value)}


def _collected(value: Any) -> Any:
    """A polars LazyFrame as the table it makes (a step may return its query)."""
    lazy = type(value).__name__ == "LazyFrame" and type(value).__module__.startswith("polars")
    return value.collect() if lazy else value


def store_all(
    client: Client,
    run: ActiveRun,
    names: tuple[str, str, str],
    named_outputs: Mapping[str, Any],
    example: Any = None,
) -> tuple[StepOutput, ...]:
    """Store a step's outputs (in the order returned), or none when one cannot be: each
    is checked, each table made Arrow and each model saved (serialising is what may fail
    of a model) before any is stored."""
    ready = _checked(named_outputs, names)
    saved = {
        output: _saved(client, names, output, value, example)
        for output, value in ready.items()
        if _is_model(value)
    }
    stored = {
        output: store(client, run, names, output, ready[output], example, saved.get(output))
        for output in ready
    }
    return tuple(stored[output] for output in ready)


def _saved(
    client: Client, names: tuple[str, str, str], output: str, value: Any, example: Any
) -> tuple[Any, Any, Saved]:
    """A model output as stored: the model, the rows of its signature, its bytes."""
    model, given = (value.model, value.example) if isinstance(value, ModelOutput) else (value, None)
    rows = _example(model, given, example)
    name = names[2] + (f"-{output}" if output else "")
    return model, rows, models.save(model, name, rows, None, client.settings.allow_pickle)


def _checked(named_outputs: Mapping[str, Any], names: tuple[str, str, str]) -> dict[str, Any]:
    """The outputs with each table as Arrow; one that cannot be stored is refused here,
    so that it does not leave the others stored beside the step's failed run."""
    pipeline, step, model_name = names
    ready = {}
    for output, value in named_outputs.items():
        suffix = f"-{output}" if output else ""
        ready[output] = value
        if _is_table(value):
            dataset = f"{pipeline}-{step}{suffix}"
            _check_output_name(output, dataset, "dataset", names)
            ready[output] = tables.to_arrow(value, dataset)
        elif _is_model(value):
            _check_output_name(output, model_name + suffix, "model", names)
        elif isinstance(value, Mapping) and _metrics(value):
            _check_finite(output, value, f"{pipeline}:{step}")
        else:
            _json_size(output, _plain(value), f"{pipeline}:{step}")
    return ready


def _is_model(value: Any) -> bool:
    return isinstance(value, ModelOutput) or hasattr(value, "predict")


def _check_output_name(output: str, name: str, kind: str, names: tuple[str, str, str]) -> None:
    try:
        check_name(name, kind)
    except InvalidInputError as error:
        if not output:
            raise
        raise InvalidInputError(
            f"Step {names[0]}:{names[1]} returned an output named {echoed(output)}, stored as "
            f"{kind} {echoed(name)}: {str(error).partition(' is not valid: ')[2]} Nothing the "
            "step returned was stored; rename the output in what it returns."
        ) from None


def store(
    client: Client,
    run: ActiveRun,
    names: tuple[str, str, str],
    output: str,
    value: Any,
    example: Any = None,
    saved: tuple[Any, Any, Saved] | None = None,
) -> StepOutput:
    """Store one output of a step's run; ``names`` are the pipeline, step and model name
    (``saved``: a model output already saved by ``_saved``)."""
    pipeline, step, model_name = names
    suffix = f"-{output}" if output else ""
    if _is_table(value):
        table = tables.to_arrow(value, f"{pipeline}-{step}{suffix}")
        # its profile is made when first asked for (a check, a drift report, `datasets
        # show`): most intermediate tables are never looked at, and profiling each on the
        # pipeline's path cost more than writing it
        version = datasets.log_dataset(
            client,
            f"{pipeline}-{step}{suffix}",
            table,
            sources=[(("run", run.id), "produced")],
            profile=False,
        )
        return StepOutput(
            name=output, kind=OutputKind.DATASET, id=version.id, ref=version.ref, digest=version.id
        )
    if _is_model(value):
        model, rows, payload = saved or _saved(client, names, output, value, example)
        stored = run.store_saved_model(model, model_name + suffix, rows, payload)
        return StepOutput(
            name=output, kind=OutputKind.MODEL, id=stored.id, ref=stored.ref, digest=stored.digest
        )
    if isinstance(value, Mapping) and _metrics(value):
        metrics = {str(k): float(v) for k, v in value.items()}
        run.log_metrics(metrics)
        return StepOutput(
            name=output,
            kind=OutputKind.METRICS,
            id="",
            ref=output or "metrics",
            digest=_digest(metrics),
            value=metrics,
        )
    return _value(output, value, f"{pipeline}:{step}")


def load(client: Client, output: StepOutput) -> Any:
    """An output as the steps after it take it: a table as Arrow, a model loaded."""
    if output.kind is OutputKind.DATASET:
        name = split_ref(output.ref)[0]
        return stored_tables.load_table(client, get_dataset(client, f"{name}@{output.id}"))
    if output.kind is OutputKind.MODEL:
        stored = client.metadata.get_model_version(*split_ref(output.ref))
        return models.deserialise(
            client.read_blob(stored.digest),
            stored.ref,
            stored.environment,
            client.settings.allow_pickle,
        )
    return output.value


def _pandas_copy(frame: Any) -> Any:
    """A DataFrame the step may change without changing ``frame``: under pandas'
    copy-on-write (always on from pandas 3) a shallow copy is one, and costs nothing."""
    import pandas

    copy_on_write = int(pandas.__version__.split(".")[0]) >= 3 or bool(
        pandas.options.mode.copy_on_write is True
    )
    return frame.copy(deep=not copy_on_write)


def as_argument(value: Any, annotation: str) -> Any:
    """A table in the form the step's argument is annotated with (Arrow by default).
    Each step gets its own copy of a DataFrame, list or mapping: one that changes its
    input in place must not change what the next step gets (a run reusing the output
    from the cache would give that step the output as stored)."""
    if not _is_table(value):
        return copy.deepcopy(value) if isinstance(value, list | dict) else value
    wanted = "pandas" if re.search(r"(?<![\w.])(pd|pandas)\.", annotation) else None
    wanted = "polars" if re.search(r"(?<![\w.])(pl|polars)\.", annotation) else wanted
    kind = type(value).__module__.split(".")[0]
    if wanted == kind or (wanted is None and kind == "pyarrow"):
        if kind == "pyarrow":  # cannot be changed in place
            return value
        given = _pandas_copy(value) if kind == "pandas" else value.clone()
    else:
        table = value if kind == "pyarrow" else tables.to_arrow(value, "input")
        if wanted is None:
            return table
        if wanted == "pandas":
            return table.to_pandas()
        import polars

        given = polars.from_arrow(table)
    return given.lazy() if wanted == "polars" and "LazyFrame" in annotation else given


def _is_table(value: Any) -> bool:
    module = type(value).__module__.split(".")[0]
    return (module, type(value).__name__) in {
        ("pyarrow", "Table"),
        ("pandas", "DataFrame"),
        ("polars", "DataFrame"),
    }


def _metrics(value: Mapping[Any, Any]) -> bool:
    """Whether a mapping is a step's metrics: names to numbers (finite or not: a NaN
    metric is refused by name in ``_checked``, not taken for outputs named by it)."""
    return (
        bool(value)
        and all(_number(v) for v in value.values())
        and all(isinstance(k, str) for k in value)
    )


def _number(value: Any) -> bool:
    """A number, Python's or NumPy's (``np.float32``, ``np.int64``), not a truth value."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """A NumPy number as the Python number it holds (JSON takes only those)."""
    return value.item() if _number(value) and hasattr(value, "item") else value


def _check_finite(output: str, metrics: Mapping[str, float], where: str) -> None:
    """A step's metrics are compared (sweeps, gates) and kept with its cache entry: a
    NaN or infinite one is a failed step, not a result to reuse."""
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    if bad:
        named = ", ".join(f"{k}={v}" for k, v in sorted(bad.items())[:5])
        inside = f" (output {output!r})" if output else ""
        raise InvalidInputError(
            f"Step {where} returned the metric{'s' if len(bad) > 1 else ''} {named}{inside}; "
            "a step's metrics must be finite numbers. Check what the step computes from "
            "its inputs and config."
        )


def _example(model: Any, given: Any, table: Any) -> Any:
    """Rows to record the model's signature with: those given, or the columns the model
    was fitted on (``feature_names_in_``) taken from the step's first input table."""
    if given is not None:
        return given
    columns = getattr(model, "feature_names_in_", None)
    if columns is None or table is None or not _is_table(table):
        return None
    arrow = table if type(table).__module__.startswith("pyarrow") else tables.to_arrow(table, "x")
    if not set(columns) <= set(arrow.column_names):
        return None
    return arrow.select(list(columns)).slice(0, 5).to_pandas()


def _value(output: str, value: Any, where: str) -> StepOutput:
    value = _plain(value)
    _json_size(output, value, where)
    return StepOutput(
        name=output,
        kind=OutputKind.VALUE,
        id="",
        ref=output or "value",
        digest=_digest(value),
        value=value,
    )


def _json_size(output: str, value: Any, where: str) -> None:
    try:
        size = len(json.dumps(value, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError):
        size = MAX_VALUE_BYTES + 1
    if size > MAX_VALUE_BYTES:
        named = f" {output!r}" if output else ""
        raise InvalidInputError(
            f"Step {where} returned{named} {type(value).__name__!r}, which prodml cannot "
            "store as a step output. Return a table (Arrow, pandas, polars), a model, a "
            "mapping of metric names to numbers, a JSON value under 64 KiB, or a mapping "
            "of names to these"
            + (ARRAY_HINT if type(value).__name__ in ("ndarray", "Series") else ".")
        )


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()
