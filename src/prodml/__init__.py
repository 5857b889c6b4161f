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

# The public names: each and the module it lives in. ``__all__``, ``dir(prodml)`` and
# the lazy imports all come from this table; the TYPE_CHECKING block below repeats
# it for type checkers and a test keeps the two equal.
_HOMES: dict[str, str] = {
    "Client": "prodml.client",
    "configure": "prodml.client",
    "ModelVersion": "prodml.domain.artifact",
    "DatasetVersion": "prodml.domain.dataset",
    "Run": "prodml.domain.run",
    "ProdmlError": "prodml.errors",
    "auth_status": "prodml.sdk.access",
    "create_token": "prodml.sdk.access",
    "disable_auth": "prodml.sdk.access",
    "enable_auth": "prodml.sdk.access",
    "list_tokens": "prodml.sdk.access",
    "revoke_token": "prodml.sdk.access",
    "token_grant": "prodml.sdk.access",
    "approvals": "prodml.sdk.approvals",
    "approve": "prodml.sdk.approvals",
    "require_approval": "prodml.sdk.approvals",
    "backfill_metric": "prodml.sdk.backfill",
    "checkout": "prodml.sdk.datasets",
    "column_distributions": "prodml.sdk.datasets",
    "diff_datasets": "prodml.sdk.datasets",
    "distribution_shift": "prodml.sdk.datasets",
    "get_dataset": "prodml.sdk.datasets",
    "infer_checks": "prodml.sdk.datasets",
    "latest_validation": "prodml.sdk.datasets",
    "list_dataset_files": "prodml.sdk.datasets",
    "list_datasets": "prodml.sdk.datasets",
    "load_table": "prodml.sdk.datasets",
    "log_dataset": "prodml.sdk.datasets",
    "profile": "prodml.sdk.datasets",
    "profile_version": "prodml.sdk.datasets",
    "read_file": "prodml.sdk.datasets",
    "validate": "prodml.sdk.datasets",
    "validation_report": "prodml.sdk.datasets",
    "document_schema": "prodml.sdk.documents",
    "monitor_drift": "prodml.sdk.drift",
    "add_to_valset": "prodml.sdk.evaluation",
    "compare_models": "prodml.sdk.evaluation",
    "evaluate_model": "prodml.sdk.evaluation",
    "evaluation_report": "prodml.sdk.evaluation",
    "get_suite": "prodml.sdk.evaluation",
    "grow_valset": "prodml.sdk.evaluation",
    "register_suite": "prodml.sdk.evaluation",
    "valset_history": "prodml.sdk.evaluation",
    "close_incident": "prodml.sdk.incidents",
    "get_incident": "prodml.sdk.incidents",
    "incident_report": "prodml.sdk.incidents",
    "list_incidents": "prodml.sdk.incidents",
    "open_incident": "prodml.sdk.incidents",
    "respond_to_incident": "prodml.sdk.incidents",
    "hosts": "prodml.sdk.hosts",
    "leases": "prodml.sdk.hosts",
    "routing_version": "prodml.sdk.hosts",
    "import_mlflow": "prodml.sdk.interop",
    "check_leakage": "prodml.sdk.leakage",
    "downstream": "prodml.sdk.lineage",
    "events": "prodml.sdk.lineage",
    "node_ref": "prodml.sdk.lineage",
    "upstream": "prodml.sdk.lineage",
    "attach_guardrails": "prodml.sdk.models",
    "describe_model": "prodml.sdk.models",
    "get_model": "prodml.sdk.models",
    "guardrails_text": "prodml.sdk.models",
    "list_models": "prodml.sdk.models",
    "list_model_versions": "prodml.sdk.models",
    "load_model": "prodml.sdk.models",
    "load_predictor": "prodml.sdk.models",
    "model_history": "prodml.sdk.models",
    "promote": "prodml.sdk.models",
    "protect_alias": "prodml.sdk.models",
    "register_model": "prodml.sdk.models",
    "remove_alias": "prodml.sdk.models",
    "set_alias": "prodml.sdk.models",
    "tag_model": "prodml.sdk.models",
    "ack_alert": "prodml.sdk.monitoring",
    "alert_precision": "prodml.sdk.monitoring",
    "changes": "prodml.sdk.monitoring",
    "get_alert": "prodml.sdk.monitoring",
    "ignore_alert": "prodml.sdk.monitoring",
    "list_alerts": "prodml.sdk.monitoring",
    "list_monitors": "prodml.sdk.monitoring",
    "monitor_windows": "prodml.sdk.monitoring",
    "run_monitors": "prodml.sdk.monitoring",
    "serve_monitors": "prodml.sdk.monitoring",
    "set_monitor": "prodml.sdk.monitoring",
    "emit_openlineage": "prodml.sdk.openlineage",
    "export_openlineage": "prodml.sdk.openlineage",
    "openlineage_events": "prodml.sdk.openlineage",
    "openlineage_health": "prodml.sdk.openlineage",
    "compact_predictions": "prodml.sdk.predictions",
    "prune_predictions": "prodml.sdk.predictions",
    "ingest_labels": "prodml.sdk.predictions",
    "query_predictions": "prodml.sdk.predictions",
    "run_pipeline": "prodml.sdk.pipelines",
    "step_cache": "prodml.sdk.pipelines",
    "step_model": "prodml.sdk.pipelines",
    "resolve": "prodml.sdk.refs",
    "compare_rollout": "prodml.sdk.rollouts",
    "get_rollout": "prodml.sdk.rollouts",
    "rollback": "prodml.sdk.rollouts",
    "rollout_action": "prodml.sdk.rollouts",
    "rollout_status": "prodml.sdk.rollouts",
    "start_rollout": "prodml.sdk.rollouts",
    "tick_rollouts": "prodml.sdk.rollouts",
    "watch_rollouts": "prodml.sdk.rollouts",
    "compare_runs": "prodml.sdk.runs",
    "get_run": "prodml.sdk.runs",
    "list_runs": "prodml.sdk.runs",
    "metric_history": "prodml.sdk.runs",
    "run_details": "prodml.sdk.runs",
    "search_runs": "prodml.sdk.runs",
    "autolog": "prodml.sdk.runs",
    "attach_run": "prodml.sdk.runs",
    "start_run": "prodml.sdk.runs",
    "tag_run": "prodml.sdk.runs",
    "score": "prodml.sdk.scoring",
    "best_trial": "prodml.sdk.sweeps",
    "sweep": "prodml.sdk.sweeps",
    "sweep_trials": "prodml.sdk.sweeps",
    "trial_models": "prodml.sdk.sweeps",
    "slo_status": "prodml.sdk.slos",
    "collect_garbage": "prodml.sdk.store",
    "init_store": "prodml.sdk.store",
    "store_info": "prodml.sdk.store",
}

__all__ = sorted(_HOMES)

if TYPE_CHECKING:  # names re-exported as `x as x` so strict type checkers see them
    from prodml.client import Client as Client
    from prodml.client import configure as configure
    from prodml.domain.artifact import ModelVersion as ModelVersion
    from prodml.domain.dataset import DatasetVersion as DatasetVersion
    from prodml.domain.run import Run as Run
    from prodml.errors import ProdmlError as ProdmlError
    from prodml.sdk.access import auth_status as auth_status
    from prodml.sdk.access import create_token as create_token
    from prodml.sdk.access import disable_auth as disable_auth
    from prodml.sdk.access import enable_auth as enable_auth
    from prodml.sdk.access import list_tokens as list_tokens
    from prodml.sdk.access import revoke_token as revoke_token
    from prodml.sdk.access import token_grant as token_grant
    from prodml.sdk.approvals import approvals as approvals
    from prodml.sdk.approvals import approve as approve
    from prodml.sdk.approvals import require_approval as require_approval
    from prodml.sdk.backfill import backfill_metric as backfill_metric
    from prodml.sdk.datasets import checkout as checkout
    from prodml.sdk.datasets import column_distributions as column_distributions
    from prodml.sdk.datasets import diff_datasets as diff_datasets
    from prodml.sdk.datasets import distribution_shift as distribution_shift
    from prodml.sdk.datasets import get_dataset as get_dataset
    from prodml.sdk.datasets import infer_checks as infer_checks
    from prodml.sdk.datasets import latest_validation as latest_validation
    from prodml.sdk.datasets import list_dataset_files as list_dataset_files
    from prodml.sdk.datasets import list_datasets as list_datasets
    from prodml.sdk.datasets import load_table as load_table
    from prodml.sdk.datasets import log_dataset as log_dataset
    from prodml.sdk.datasets import profile as profile
    from prodml.sdk.datasets import profile_version as profile_version
    from prodml.sdk.datasets import read_file as read_file
    from prodml.sdk.datasets import validate as validate
    from prodml.sdk.datasets import validation_report as validation_report
    from prodml.sdk.documents import document_schema as document_schema
    from prodml.sdk.drift import monitor_drift as monitor_drift
    from prodml.sdk.evaluation import add_to_valset as add_to_valset
    from prodml.sdk.evaluation import compare_models as compare_models
    from prodml.sdk.evaluation import evaluate_model as evaluate_model
    from prodml.sdk.evaluation import evaluation_report as evaluation_report
    from prodml.sdk.evaluation import get_suite as get_suite
    from prodml.sdk.evaluation import grow_valset as grow_valset
    from prodml.sdk.evaluation import register_suite as register_suite
    from prodml.sdk.evaluation import valset_history as valset_history
    from prodml.sdk.hosts import hosts as hosts
    from prodml.sdk.hosts import leases as leases
    from prodml.sdk.hosts import routing_version as routing_version
    from prodml.sdk.incidents import close_incident as close_incident
    from prodml.sdk.incidents import get_incident as get_incident
    from prodml.sdk.incidents import incident_report as incident_report
    from prodml.sdk.incidents import list_incidents as list_incidents
    from prodml.sdk.incidents import open_incident as open_incident
    from prodml.sdk.incidents import respond_to_incident as respond_to_incident
    from prodml.sdk.interop import import_mlflow as import_mlflow
    from prodml.sdk.leakage import check_leakage as check_leakage
    from prodml.sdk.lineage import downstream as downstream
    from prodml.sdk.lineage import events as events
    from prodml.sdk.lineage import node_ref as node_ref
    from prodml.sdk.lineage import upstream as upstream
    from prodml.sdk.models import attach_guardrails as attach_guardrails
    from prodml.sdk.models import describe_model as describe_model
    from prodml.sdk.models import get_model as get_model
    from prodml.sdk.models import guardrails_text as guardrails_text
    from prodml.sdk.models import list_model_versions as list_model_versions
    from prodml.sdk.models import list_models as list_models
    from prodml.sdk.models import load_model as load_model
    from prodml.sdk.models import load_predictor as load_predictor
    from prodml.sdk.models import model_history as model_history
    from prodml.sdk.models import promote as promote
    from prodml.sdk.models import protect_alias as protect_alias
    from prodml.sdk.models import register_model as register_model
    from prodml.sdk.models import remove_alias as remove_alias
    from prodml.sdk.models import set_alias as set_alias
    from prodml.sdk.models import tag_model as tag_model
    from prodml.sdk.monitoring import ack_alert as ack_alert
    from prodml.sdk.monitoring import alert_precision as alert_precision
    from prodml.sdk.monitoring import changes as changes
    from prodml.sdk.monitoring import get_alert as get_alert
    from prodml.sdk.monitoring import ignore_alert as ignore_alert
    from prodml.sdk.monitoring import list_alerts as list_alerts
    from prodml.sdk.monitoring import list_monitors as list_monitors
    from prodml.sdk.monitoring import monitor_windows as monitor_windows
    from prodml.sdk.monitoring import run_monitors as run_monitors
    from prodml.sdk.monitoring import serve_monitors as serve_monitors
    from prodml.sdk.monitoring import set_monitor as set_monitor
    from prodml.sdk.openlineage import emit_openlineage as emit_openlineage
    from prodml.sdk.openlineage import export_openlineage as export_openlineage
    from prodml.sdk.openlineage import openlineage_events as openlineage_events
    from prodml.sdk.openlineage import openlineage_health as openlineage_health
    from prodml.sdk.pipelines import run_pipeline as run_pipeline
    from prodml.sdk.pipelines import step_cache as step_cache
    from prodml.sdk.pipelines import step_model as step_model
    from prodml.sdk.predictions import compact_predictions as compact_predictions
    from prodml.sdk.predictions import ingest_labels as ingest_labels
    from prodml.sdk.predictions import prune_predictions as prune_predictions
    from prodml.sdk.predictions import query_predictions as query_predictions
    from prodml.sdk.refs import resolve as resolve
    from prodml.sdk.rollouts import compare_rollout as compare_rollout
    from prodml.sdk.rollouts import get_rollout as get_rollout
    from prodml.sdk.rollouts import rollback as rollback
    from prodml.sdk.rollouts import rollout_action as rollout_action
    from prodml.sdk.rollouts import rollout_status as rollout_status
    from prodml.sdk.rollouts import start_rollout as start_rollout
    from prodml.sdk.rollouts import tick_rollouts as tick_rollouts
    from prodml.sdk.rollouts import watch_rollouts as watch_rollouts
    from prodml.sdk.runs import attach_run as attach_run
    from prodml.sdk.runs import autolog as autolog
    from prodml.sdk.runs import compare_runs as compare_runs
    from prodml.sdk.runs import get_run as get_run
    from prodml.sdk.runs import list_runs as list_runs
    from prodml.sdk.runs import metric_history as metric_history
    from prodml.sdk.runs import run_details as run_details
    from prodml.sdk.runs import search_runs as search_runs
    from prodml.sdk.runs import start_run as start_run
    from prodml.sdk.runs import tag_run as tag_run
    from prodml.sdk.scoring import score as score
    from prodml.sdk.slos import slo_status as slo_status
    from prodml.sdk.store import collect_garbage as collect_garbage
    from prodml.sdk.store import init_store as init_store
    from prodml.sdk.store import store_info as store_info
    from prodml.sdk.sweeps import best_trial as best_trial
    from prodml.sdk.sweeps import sweep as sweep
    from prodml.sdk.sweeps import sweep_trials as sweep_trials
    from prodml.sdk.sweeps import trial_models as trial_models


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'prodml' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
