"""Interop: bring another tool's records into the store (MLflow's runs and registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodml.client import Client, default_client

if TYPE_CHECKING:
    from prodml.interop.mlflow_import import ImportReport, Progress


def import_mlflow(
    tracking_uri: str,
    model_prefix: str = "",
    progress: Progress | None = None,
    client: Client | None = None,
) -> ImportReport:
    """Import an MLflow tracking store (``sqlite:///mlflow.db``, an ``mlruns`` folder or a
    tracking server's URL), read through MLflow's client: experiments, runs with their
    params, tags, times, status, artifacts and every metric point, and registered model
    versions with their aliases and stages (served through their MLflow flavor).

    Runs keep their MLflow ids; registered models their names (after ``model_prefix``)
    and version numbers. Running it again imports only what is new and brings runs that
    were still running up to date. Needs ``pip install 'prodml[mlflow]'``."""
    from prodml.interop.mlflow_import import import_mlflow as run_import

    return run_import(client or default_client(), tracking_uri, model_prefix, progress)
