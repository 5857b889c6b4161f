"""What a backfill asks for, checked before any model is loaded: the metric (one of the
model's suite, a built-in, or ``module:function``), the validation set version, the
label and the task, and the slices (written as in a suite), made into a suite of that
one metric for the evaluation engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from prodml import documents, yaml_text
from prodml.client import Client
from prodml.data.refs import get_dataset
from prodml.domain.dataset import DatasetVersion
from prodml.domain.evaluation import ALL
from prodml.errors import InvalidInputError, NotFoundError, echoed
from prodml.evaluate import functions
from prodml.evaluate import metrics as built_ins
from prodml.evaluate import suite as suites
from prodml.evaluate.evaluations import load_suite
from prodml.evaluate.outcomes import Task
from prodml.evaluate.suite_document import SliceDocument
from prodml.predict import slices as slicing

MARK = "backfill"  # the key of a stored evaluation's document naming what was backfilled
FLOATS = ("halffloat", "float", "double")  # a label of these types: regression by default
KINDS = ("table", "row")


@dataclass(frozen=True)
class Request:
    suite: suites.Suite  # one metric, the validation set, the slices asked for
    metric: str
    function: str | None
    higher_is_better: bool
    dataset: DatasetVersion
    identity: dict[str, Any]  # equal for two backfills whose values are interchangeable

    def wheres(self, table: pa.Table) -> dict[str, str]:
        """Each slice's condition, ``all`` first; a ``by`` slice per value in ``table``."""
        found = {ALL: ""}
        for spec in self.suite.slices:
            if spec.by:
                found.update(slicing.by_value(table, spec.by, spec.limit, self.dataset.ref))
            else:
                found[spec.name] = spec.where
        return found


def request(
    client: Client,
    name: str,
    metric: str,
    valset: str | None,
    slices: tuple[str, ...],
    *,
    label: str | None = None,
    task: str | None = None,
    kind: str = "table",
    higher_is_better: bool | None = None,
) -> Request:
    registered = _registered(client, name)
    entry = _metric(metric, registered, kind, higher_is_better)
    dataset = _dataset(client, valset, registered, name)
    column = _label(label, registered, dataset, name)
    chosen = _task(task, registered, entry, dataset.schema.get(column, ""))
    document: dict[str, Any] = {
        "task": chosen.value,
        "label": column,
        "validation_sets": [dataset.ref],
        "metrics": [entry["name"]] if "function" not in entry else [],
        "slices": [_slice(text) for text in slices],
        "auto_slices": {"count": 0},
        "threshold": registered.threshold if registered else 0.5,
    }
    if registered is not None:
        document["bootstrap"] = {
            "resamples": registered.resamples,
            "confidence": registered.confidence,
            "seed": registered.seed,
        }
    if "function" in entry:
        document["product_metrics" if entry.pop("product") else "custom_metrics"] = [entry]
    elif entry["name"] not in built_ins.FOR_TASK[chosen]:
        known = ", ".join(built_ins.FOR_TASK[chosen])
        other = next(t for t in Task if t is not chosen)
        raise InvalidInputError(
            f"metric {echoed(metric)} is not a {chosen} metric ({known}). Give one of those, or "
            f"--task {other} (task='{other}' in Python) if the model is a {other} model."
        )
    suite = suites.parse(document, _suite_version(entry, registered))
    higher = suite.functions[0].higher_is_better if suite.functions else _higher(entry["name"])
    identity = {
        "metric": entry["name"],
        "function": entry.get("function"),
        "kind": entry.get("kind"),
        "valset_id": dataset.id,
        "label": column,
        "task": chosen.value,
        "threshold": document["threshold"],
    }
    return Request(suite, entry["name"], entry.get("function"), higher, dataset, identity)


def _registered(client: Client, name: str) -> suites.Suite | None:
    try:
        return load_suite(client, name)
    except NotFoundError:
        return None


def _dataset(
    client: Client, valset: str | None, registered: suites.Suite | None, name: str
) -> DatasetVersion:
    if valset is None:
        if registered is None or not registered.valsets:
            raise InvalidInputError(
                f"valset: model {echoed(name)} has no suite naming a validation set. Give one: "
                "--valset NAME@VERSION (valset='NAME@VERSION' in Python)."
            )
        valset = registered.valsets[0]
    try:
        return get_dataset(client, valset)
    except NotFoundError:
        raise NotFoundError(
            f"valset: {echoed(valset)} is not a dataset version in this store. List them: "
            "prodml datasets list; add one: prodml valsets add NAME FILE"
        ) from None


def _label(
    label: str | None, registered: suites.Suite | None, dataset: DatasetVersion, name: str
) -> str:
    column = label or (registered.label if registered else None)
    if column is None:
        raise InvalidInputError(
            f"label: model {echoed(name)} has no suite naming the label column. Give it: "
            "--label COLUMN (label='COLUMN' in Python)."
        )
    if dataset.schema and column not in dataset.schema:
        raise InvalidInputError(
            f"label: validation set {dataset.ref} has no column {echoed(column)}. Its columns: "
            f"{', '.join(dataset.schema)}. Give the label column with --label COLUMN."
        )
    return column


def _metric(
    metric: str, registered: suites.Suite | None, kind: str, higher_is_better: bool | None
) -> dict[str, Any]:
    """The metric as a suite's entry: a built-in ``{name}``, else a custom or product
    metric ``{name, function, kind, higher_is_better, product}``."""
    for function in registered.functions if registered else ():
        if metric in (function.name, function.function):
            return _entry(function)
    if metric in built_ins.BUILT_IN:
        return {"name": metric}
    if ":" in metric:
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}, not {echoed(kind)}.")
        higher = True if higher_is_better is None else higher_is_better
        return _entry(suites.FunctionMetric(metric, metric, higher, kind == "row"))
    own = [f.name for f in registered.functions] if registered else []
    raise InvalidInputError(
        f"metric {echoed(metric)} is not a metric of the model's suite "
        f"({', '.join(own) or 'none'}), not a built-in ({', '.join(built_ins.BUILT_IN)}) "
        "and not module:function. Give one of those, e.g. auc or my_metrics:cost (the "
        "module importable from here)."
    )


def _entry(metric: suites.FunctionMetric) -> dict[str, Any]:
    functions.load(metric)  # a module that does not import is refused before any model
    return {
        "name": metric.name,
        "function": metric.function,
        "kind": "row" if metric.per_row else "table",
        "higher_is_better": metric.higher_is_better,
        "product": metric.product,
    }


def _suite_version(entry: dict[str, Any], registered: suites.Suite | None) -> int:
    """The version of the model's suite when the metric is one of its own; else 0."""
    if registered is not None and entry["name"] in registered.metric_names():
        return registered.version
    return 0


def _task(
    task: str | None, registered: suites.Suite | None, entry: dict[str, Any], label_type: str
) -> Task:
    """As asked; else the suite's; else the only task of a built-in metric; else
    regression for a label of floating-point numbers and classification otherwise."""
    if task is not None:
        try:
            return Task(task)
        except ValueError:
            raise InvalidInputError(
                f"task must be classification or regression, not {echoed(task)}."
            ) from None
    if registered is not None:
        return registered.task
    tasks = [t for t in Task if entry["name"] in built_ins.FOR_TASK[t] and "function" not in entry]
    if len(tasks) == 1:
        return tasks[0]
    return Task.REGRESSION if label_type in FLOATS else Task.CLASSIFICATION


def _slice(text: str) -> dict[str, Any]:
    """A slice as a suite writes it (``{name: N, where: SQL}``, ``{by: COLUMN}``), or
    ``NAME: SQL`` for short, or bare SQL, which names itself."""
    what = f"--slice {echoed(text)}"
    parsed = yaml_text.parse(text, what)
    if isinstance(parsed, str):
        parsed = {"name": parsed.strip(), "where": parsed}
    elif isinstance(parsed, dict) and len(parsed) == 1:
        key = next(iter(parsed))
        if key not in SliceDocument.model_fields:
            parsed = {"name": str(key), "where": parsed[key]}
    documents.check(SliceDocument, parsed, what)
    return dict(parsed)


def _higher(name: str) -> bool:
    return built_ins.BUILT_IN[name].higher_is_better
