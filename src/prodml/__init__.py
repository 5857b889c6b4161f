"""prodml: the production-ML loop in one package.

Quick start::

    import prodml
    flights = prodml.log_dataset("flights", df, key="id")
    with prodml.start_run("delay", config={"depth": 6}, hypothesis="...", inputs=[flights]) as run:
        run.log_metric("auc", 0.91)

Names are imported on first use, so ``import prodml`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DatasetVersion",
    "ModelVersion",
    "ProdmlError",
    "Run",
    "checkout",
    "compare_runs",
    "configure",
    "diff_datasets",
    "downstream",
    "events",
    "get_dataset",
    "get_model",
    "get_run",
    "infer_checks",
    "list_datasets",
    "list_runs",
    "load_model",
    "load_table",
    "log_dataset",
    "metric_history",
    "profile",
    "read_file",
    "start_run",
    "upstream",
    "validate",
]

_HOMES = {
    "Client": "prodml.client",
    "configure": "prodml.client",
    "ProdmlError": "prodml.errors",
    "DatasetVersion": "prodml.domain.dataset",
    "ModelVersion": "prodml.domain.artifact",
    "Run": "prodml.domain.run",
}

if TYPE_CHECKING:
    from prodml.api import (
        checkout,
        compare_runs,
        diff_datasets,
        downstream,
        events,
        get_dataset,
        get_model,
        get_run,
        infer_checks,
        list_datasets,
        list_runs,
        load_model,
        load_table,
        log_dataset,
        metric_history,
        profile,
        read_file,
        start_run,
        upstream,
        validate,
    )
    from prodml.client import Client, configure
    from prodml.domain.artifact import ModelVersion
    from prodml.domain.dataset import DatasetVersion
    from prodml.domain.run import Run
    from prodml.errors import ProdmlError


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'prodml' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES.get(name, "prodml.api")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
