"""The serving SDK: rollouts, rollback, the prediction log and labels.

Deploy actions (start, pause, resume, abort, promote a rollout; roll back) need a
token with the deployer role while the store's auth is on (``prodml auth
enable``); the token is read from ``PRODML_TOKEN`` (or ``prodml.toml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from prodml.client import Client, default_client
from prodml.deploy.controller import Judgement
from prodml.deploy.pairing import SliceComparison
from prodml.domain.registry import AliasMove
from prodml.domain.rollout import Rollout
from prodml.predictions.labels import LabelReport


def _deployer(client: Client, action: str) -> Client:
    from prodml.deploy import tokens

    tokens.require(client, action)
    return client


def start_rollout(
    name: str, version: str | int, plan: Any = None, why: str | None = None,
    force: bool = False, client: Client | None = None,
) -> Rollout:  # fmt: skip
    """Take a version through a rollout plan (a YAML file, text or mapping; None: the
    default shadow, canary 5/25/50%, full) against the current champion. With a suite,
    the version must have passed the gate against the champion offline, unless
    ``force`` with a reason in ``why``."""
    from prodml.deploy import rollouts

    client = _deployer(client or default_client(), "rollout")
    return rollouts.start(client, name, str(version), plan, why, force)


def rollout_action(
    action: str, name: str, why: str | None = None, client: Client | None = None
) -> Rollout:
    """``pause``, ``resume``, ``abort`` or ``promote`` the rollout of ``name`` by hand."""
    from prodml.deploy import rollouts

    client = _deployer(client or default_client(), "rollout")
    return rollouts.act(client, action, name, why)


def rollout_status(
    name: str | None = None, client: Client | None = None
) -> list[tuple[Rollout, Judgement | None]]:
    """Rollouts (newest first), each active one with the live verdict of its step."""
    from prodml.deploy import controller, rollouts

    client = client or default_client()
    shown = []
    for rollout in rollouts.listing(client, name):
        judged = controller.judge(client, rollout) if rollout.active else None
        shown.append((rollout, judged))
    return shown


def compare_rollout(
    name: str, metric: str | None = None, client: Client | None = None
) -> tuple[Rollout, list[SliceComparison]]:
    from prodml.deploy import pairing, rollouts

    client = client or default_client()
    rollout = rollouts.get(client, name)
    return rollout, pairing.compare(client, rollout, metric)


def rollback(
    name: str, why: str | None = None, client: Client | None = None
) -> AliasMove | Rollout:
    """Roll ``name`` back: an active rollout ends; otherwise champion returns to the
    version it had before. Every gateway follows within about a second."""
    from prodml.deploy import rollouts

    client = _deployer(client or default_client(), "rollback")
    return rollouts.rollback(client, name, why)


def query_predictions(sql: str, client: Client | None = None) -> pa.Table:
    """SQL over the prediction log: tables ``predictions``, ``labels``, ``labelled``."""
    from prodml.predictions import query

    client = client or default_client()
    return query.query(Path(client.settings.log_url), sql)


def ingest_labels(
    source: str | Path | Any, key: str = "request_id", label: str = "label",
    at: str | None = None, client: Client | None = None,
) -> LabelReport:  # fmt: skip
    """Join ground truth (a CSV/Parquet file or a table) to logged requests by ``key``."""
    from prodml.data.tables import read_table, to_arrow
    from prodml.predictions import labels

    client = client or default_client()
    is_path = isinstance(source, str | Path)
    table = read_table(Path(source)) if is_path else to_arrow(source, "labels")
    name = Path(source).name if is_path else "table"
    report = labels.ingest(Path(client.settings.log_url), table, key, label, at, name)
    client.metadata.record_event(
        "labels.ingested", ("labels", name), None,
        {"rows": report.rows, "matched": report.matched, "unknown": report.unknown,
         "lag_median_s": report.lag_median_s},
    )  # fmt: skip
    return report
