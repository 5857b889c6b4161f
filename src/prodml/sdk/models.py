"""Models: register, resolve, load; aliases, protection, tags, guardrails, promotion.

What changes what serves (moving or removing an alias, protecting one, attaching
guardrails, promoting) needs a deployer token while the store's auth is on; the
token is read from ``PRODML_TOKEN`` (or ``prodml.toml``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prodml import times
from prodml.client import Client, default_client
from prodml.domain.artifact import ModelVersion
from prodml.domain.registry import RegisteredModel, Tag

if TYPE_CHECKING:
    from prodml.deploy.promotion import Promotion
    from prodml.deploy.registry import History as History
    from prodml.domain.registry import AliasMove
    from prodml.predict.predictor import Predictor


@dataclass(frozen=True, kw_only=True)
class ModelDetails:
    """One model version with what is said of it: the aliases naming it now, its tags,
    its latest guardrails version and its evaluations (newest first)."""

    version: ModelVersion
    aliases: list[str]
    tags: list[Tag]
    guardrails: int | None
    evaluations: list[dict[str, Any]]


def get_model(
    ref: str, client: Client | None = None, as_of: datetime | str | None = None
) -> ModelVersion:
    """``NAME@VERSION``, ``NAME@alias`` (e.g. ``churn@champion``, as of a time if given)
    or ``NAME`` for the latest version."""
    from prodml.predict.loading import get

    return get(client or default_client(), ref, times.moment(as_of, "--as-of"))


def list_models(client: Client | None = None) -> list[RegisteredModel]:
    """Every model name with its version count, latest version's time and aliases."""
    return (client or default_client()).metadata.registered_models()


def describe_model(ref: str, client: Client | None = None) -> ModelDetails:
    """A model version (``NAME@VERSION`` or ``NAME@alias``) with its aliases, tags,
    guardrails and evaluations."""
    chosen = client or default_client()
    version = get_model(ref, chosen)
    store = chosen.metadata
    aliases = [a for a, v in store.aliases(version.name).items() if v == version.version]
    guardrails = store.guardrails_artifact(version.id)
    return ModelDetails(
        version=version,
        aliases=aliases,
        tags=store.tags(version.id),
        guardrails=guardrails[0] if guardrails else None,
        evaluations=[evaluation.document for evaluation in store.evaluations(version.id)],
    )


def load_model(ref: str, client: Client | None = None) -> Any:
    """The model object of ``NAME@VERSION`` (latest without a version), verified."""
    from prodml.track import model as models

    chosen = client or default_client()
    version = get_model(ref, chosen)
    return models.deserialise(
        chosen.read_blob(version.digest),
        version.ref,
        version.environment,
        chosen.settings.allow_pickle,
    )


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
    from prodml.predict import loading

    return loading.predictor(client or default_client(), ref)


def set_alias(
    ref: str, alias: str, reason: str | None = None, client: Client | None = None
) -> AliasMove:
    """Point an unprotected alias (e.g. ``challenger``) at ``NAME@VERSION``."""
    from prodml.deploy import registry

    return registry.set_alias(_authorised(client or default_client(), "alias"), ref, alias, reason)


def remove_alias(
    name: str, alias: str, reason: str | None = None, client: Client | None = None
) -> AliasMove:
    """Remove an alias of model ``name`` (a protected one needs ``reason``)."""
    from prodml.deploy import registry

    return registry.remove_alias(
        _authorised(client or default_client(), "alias"), name, alias, reason
    )


def protect_alias(
    name: str, alias: str, protected: bool = True, client: Client | None = None
) -> None:
    """Make ``alias`` of model ``name`` move only through the gate, or (``protected=False``)
    move freely again; champion is always protected."""
    from prodml.deploy import registry

    registry.protect(_authorised(client or default_client(), "protect"), name, alias, protected)


def tag_model(ref: str, key: str, value: str, client: Client | None = None) -> None:
    from prodml.deploy import registry

    registry.tag(client or default_client(), ref, key, value)


def list_model_versions(
    name: str, limit: int = 100, before: int | None = None, client: Client | None = None
) -> list[ModelVersion]:
    """Versions of model ``name``, newest first: a page of at most ``limit`` (500 at
    most), older than version ``before`` when given."""
    store = (client or default_client()).metadata
    versions = store.model_versions(name, limit, before)
    if not versions and before is None:
        store.get_model_version(name, None)  # no such model: say so, naming it
    return versions


def model_history(
    name: str, as_of: datetime | str | None = None, client: Client | None = None
) -> History:
    """Every alias move of a model, and which version each alias named at ``as_of``."""
    from prodml.deploy import registry

    return registry.history(client or default_client(), name, times.moment(as_of, "--as-of"))


def guardrails_text(ref: str, client: Client | None = None) -> tuple[int, str] | None:
    """The latest guardrails of a model version as attached: (its number, its YAML
    text); None when it has none."""
    chosen = client or default_client()
    version = get_model(ref, chosen)
    found = chosen.metadata.guardrails_artifact(version.id)
    if found is None:
        return None
    artifact = chosen.metadata.get_artifact(found[1])
    return found[0], chosen.read_blob(artifact.digest).decode("utf-8", errors="replace")


def attach_guardrails(ref: str, rules: Any, client: Client | None = None) -> int:
    """Store post-prediction rules (YAML file, text or mapping) beside a model version;
    they change its answers wherever it serves, so they need a deployer token."""
    from prodml.deploy import registry

    return registry.attach_guardrails(
        _authorised(client or default_client(), "guardrails"), ref, rules
    )


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

    return _promote(
        _authorised(client or default_client(), "promote"), name, str(version), to, why, force
    )


def _authorised(client: Client, action: str) -> Client:
    from prodml.deploy import tokens

    return tokens.authorised(client, action)
