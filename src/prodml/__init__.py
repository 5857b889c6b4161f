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
    "ack_alert",
    "add_to_valset",
    "alert_precision",
    "attach_guardrails",
    "auth_status",
    "changes",
    "checkout",
    "close_incident",
    "compare_models",
    "compare_rollout",
    "compare_runs",
    "configure",
    "create_token",
    "diff_datasets",
    "disable_auth",
    "downstream",
    "enable_auth",
    "evaluate_model",
    "events",
    "get_alert",
    "get_dataset",
    "get_incident",
    "get_model",
    "get_run",
    "ignore_alert",
    "incident_report",
    "infer_checks",
    "ingest_labels",
    "list_alerts",
    "list_datasets",
    "list_incidents",
    "list_runs",
    "list_tokens",
    "load_model",
    "load_predictor",
    "load_table",
    "log_dataset",
    "metric_history",
    "model_history",
    "open_incident",
    "profile",
    "promote",
    "protect_alias",
    "query_predictions",
    "read_file",
    "register_model",
    "register_suite",
    "remove_alias",
    "respond_to_incident",
    "revoke_token",
    "rollback",
    "rollout_action",
    "rollout_status",
    "run_monitors",
    "set_alias",
    "set_monitor",
    "start_rollout",
    "start_run",
    "tag_model",
    "upstream",
    "validate",
    "valset_history",
]

_HOMES = {
    "Client": "prodml.client",
    "configure": "prodml.client",
    "ProdmlError": "prodml.errors",
    "DatasetVersion": "prodml.domain.dataset",
    "ModelVersion": "prodml.domain.artifact",
    "Run": "prodml.domain.run",
    "add_to_valset": "prodml.api_models",
    "attach_guardrails": "prodml.api_models",
    "compare_models": "prodml.api_models",
    "evaluate_model": "prodml.api_models",
    "load_predictor": "prodml.api_models",
    "model_history": "prodml.api_models",
    "promote": "prodml.api_models",
    "protect_alias": "prodml.api_models",
    "remove_alias": "prodml.api_models",
    "register_model": "prodml.api_models",
    "register_suite": "prodml.api_models",
    "set_alias": "prodml.api_models",
    "tag_model": "prodml.api_models",
    "valset_history": "prodml.api_models",
    "compare_rollout": "prodml.api_serving",
    "ingest_labels": "prodml.api_serving",
    "query_predictions": "prodml.api_serving",
    "rollback": "prodml.api_serving",
    "rollout_action": "prodml.api_serving",
    "rollout_status": "prodml.api_serving",
    "start_rollout": "prodml.api_serving",
    "ack_alert": "prodml.api_monitoring",
    "alert_precision": "prodml.api_monitoring",
    "changes": "prodml.api_monitoring",
    "get_alert": "prodml.api_monitoring",
    "ignore_alert": "prodml.api_monitoring",
    "list_alerts": "prodml.api_monitoring",
    "run_monitors": "prodml.api_monitoring",
    "set_monitor": "prodml.api_monitoring",
    "auth_status": "prodml.api_access",
    "create_token": "prodml.api_access",
    "disable_auth": "prodml.api_access",
    "enable_auth": "prodml.api_access",
    "list_tokens": "prodml.api_access",
    "revoke_token": "prodml.api_access",
    "close_incident": "prodml.api_incidents",
    "get_incident": "prodml.api_incidents",
    "incident_report": "prodml.api_incidents",
    "list_incidents": "prodml.api_incidents",
    "open_incident": "prodml.api_incidents",
    "respond_to_incident": "prodml.api_incidents",
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
    from prodml.api_access import (
        auth_status,
        create_token,
        disable_auth,
        enable_auth,
        list_tokens,
        revoke_token,
    )
    from prodml.api_incidents import (
        close_incident,
        get_incident,
        incident_report,
        list_incidents,
        open_incident,
        respond_to_incident,
    )
    from prodml.api_models import (
        add_to_valset,
        attach_guardrails,
        compare_models,
        evaluate_model,
        load_predictor,
        model_history,
        promote,
        protect_alias,
        register_model,
        register_suite,
        remove_alias,
        set_alias,
        tag_model,
        valset_history,
    )
    from prodml.api_monitoring import (
        ack_alert,
        alert_precision,
        changes,
        get_alert,
        ignore_alert,
        list_alerts,
        run_monitors,
        set_monitor,
    )
    from prodml.api_serving import (
        compare_rollout,
        ingest_labels,
        query_predictions,
        rollback,
        rollout_action,
        rollout_status,
        start_rollout,
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
