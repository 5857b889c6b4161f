"""The module-level SDK for the registry, evaluation, gates and validation sets; each
function works on the default client unless given one.

What changes what serves (moving or removing an alias, protecting one, attaching
guardrails, promoting) needs a deployer token while the store's auth is on; the
token is read from ``PRODML_TOKEN`` (or ``prodml.toml``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client

if TYPE_CHECKING:
    from prodml.deploy.predictor import Predictor
    from prodml.deploy.promotion import Promotion
    from prodml.deploy.registry import History
    from prodml.domain.artifact import ModelVersion
    from prodml.domain.dataset import DatasetVersion
    from prodml.domain.evaluation import Comparison, Evaluation
    from prodml.domain.registry import AliasMove
    from prodml.evaluate.valsets import Growth


def _deployer(client: Client | None, action: str) -> Client:
    """The client, once its token (``PRODML_TOKEN``) is allowed ``action``."""
    from prodml.deploy import tokens

    chosen = client or default_client()
    tokens.require(chosen, action)
    return chosen


def register_model(
    run_id: str, name: str, source: str | None = None, client: Client | None = None
) -> ModelVersion:
    """A new version of ``name`` from a run's logged model (``source`` picks one of several)
    or from a pickled-model artifact of the run named ``source``."""
    from prodml.deploy import registry

    return registry.register(client or default_client(), run_id, name, source)


def load_predictor(ref: str, client: Client | None = None) -> Predictor:
    """``NAME@VERSION`` or ``NAME@alias`` ready to predict: the input signature is
    enforced and the version's guardrails applied, as when served."""
    from prodml.deploy import registry

    return registry.predictor(client or default_client(), ref)


def set_alias(
    ref: str, alias: str, reason: str | None = None, client: Client | None = None
) -> AliasMove:
    """Point an unprotected alias (e.g. ``challenger``) at ``NAME@VERSION``."""
    from prodml.deploy import registry

    return registry.set_alias(_deployer(client, "alias"), ref, alias, reason)


def remove_alias(
    name: str, alias: str, reason: str | None = None, client: Client | None = None
) -> AliasMove:
    """Remove an alias of model ``name`` (a protected one needs ``reason``)."""
    from prodml.deploy import registry

    return registry.remove_alias(_deployer(client, "alias"), name, alias, reason)


def protect_alias(
    name: str, alias: str, protected: bool = True, client: Client | None = None
) -> None:
    """Make ``alias`` of model ``name`` move only through the gate, or (``protected=False``)
    move freely again; champion is always protected."""
    from prodml.deploy import registry

    registry.protect(_deployer(client, "protect"), name, alias, protected)


def tag_model(ref: str, key: str, value: str, client: Client | None = None) -> None:
    from prodml.deploy import registry

    registry.tag(client or default_client(), ref, key, value)


def model_history(
    name: str, as_of: datetime | None = None, client: Client | None = None
) -> History:
    """Every alias move of a model, and which version each alias named at ``as_of``."""
    from prodml.deploy import registry

    return registry.history(client or default_client(), name, as_of)


def attach_guardrails(ref: str, rules: Any, client: Client | None = None) -> int:
    """Store post-prediction rules (YAML file, text or mapping) beside a model version;
    they change its answers wherever it serves, so they need a deployer token."""
    from prodml.deploy import registry

    return registry.attach_guardrails(_deployer(client, "guardrails"), ref, rules)


def register_suite(
    name: str, suite: str | os.PathLike[str] | Mapping[str, Any], client: Client | None = None
) -> int:
    """Store the evaluation suite of model ``name`` (a YAML file or a mapping); returns
    its version. Every evaluation and promotion of the model uses the latest."""
    from prodml.evaluate import evaluations
    from prodml.evaluate.suite import read

    document = dict(suite) if isinstance(suite, Mapping) else read(Path(suite))
    return evaluations.register_suite(client or default_client(), name, document)


def evaluate_model(
    ref: str, suite_version: int | None = None, client: Client | None = None
) -> Evaluation:
    """Run a model version's suite: every metric per validation set and slice, with
    bootstrap intervals, stored and linked to the dataset versions used."""
    from prodml.evaluate import evaluations

    return evaluations.evaluate(client or default_client(), ref, suite_version)


def compare_models(
    name: str, baseline: str | None, candidate: str, client: Client | None = None
) -> Comparison:
    """Candidate against baseline (versions or aliases) on the same rows: per slice and
    metric both values, the difference and its interval, and the gate's verdict."""
    from prodml.evaluate import evaluations

    return evaluations.compare(client or default_client(), name, baseline, candidate)


def promote(
    name: str,
    version: str | int,
    to: str = "champion",
    why: str | None = None,
    force: bool = False,
    client: Client | None = None,
) -> Promotion:
    """Move alias ``to`` to a version if the suite's gate passes; refused otherwise,
    unless ``force`` with a reason in ``why`` (recorded as an override)."""
    from prodml.deploy.promotion import promote as _promote

    return _promote(_deployer(client, "promote"), name, str(version), to, why, force)


def add_to_valset(
    name: str, rows: Any, source: str | None = None, client: Client | None = None
) -> DatasetVersion:
    """Append rows (e.g. production failures) to a validation set as its next version,
    each row's ``_source`` recorded; suites naming the set use its latest version."""
    from prodml.evaluate import valsets

    return valsets.add(client or default_client(), name, rows, source)[0]


def valset_history(name: str, client: Client | None = None) -> list[Growth]:
    from prodml.evaluate import valsets

    return valsets.history(client or default_client(), name)
