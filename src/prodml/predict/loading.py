"""A model version from its reference (number, alias at a time, or id prefix), and
the predictor that serves it with its signature and guardrails."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prodml import yaml_text
from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.domain.ids import split_ref
from prodml.errors import InvalidInputError, NotFoundError
from prodml.track import model as models

if TYPE_CHECKING:  # the predictor and guardrails load numpy and pyarrow: only to predict
    from prodml.predict import guardrails as rails
    from prodml.predict.predictor import Predictor

MIN_ID_PREFIX = 6  # a shorter hex word is read as an alias, never as a version id


def get(client: Client, ref: str, as_of: datetime | None = None) -> ModelVersion:
    """``NAME``, ``NAME@3``, ``NAME@latest``, ``NAME@champion`` (any alias, at ``as_of``)
    or ``NAME@<id prefix>``."""
    if not isinstance(ref, str):
        raise InvalidInputError(
            f"A model reference is text such as 'churn@3' or 'churn@champion', not "
            f"{type(ref).__name__} {ref!r:.40}."
        )
    name, version = split_ref(ref)
    if not name.strip():
        raise NotFoundError(
            f"Model reference {ref!r} names no model: give MODEL@VERSION, e.g. churn@3 or "
            "churn@champion. List models: prodml models list"
        )
    store = client.metadata
    if version and version != "latest" and not (version.isascii() and version.isdigit()):
        number = store.alias_version(name, version, as_of.timestamp() if as_of else None)
        if number is not None:
            return store.get_model_version(name, str(number))
        ever = any(move.alias == version for move in store.alias_moves(name))
        if ever or not _is_hex(version) or len(version) < MIN_ID_PREFIX:
            when = f" at {as_of.isoformat()}" if as_of else ""
            raise NotFoundError(
                f"Model {name!r} has no alias {version!r}{when}. "
                f"See its aliases: prodml models history {name}"
            )
    return store.get_model_version(name, version)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text.lower())


def predictor(client: Client, ref: str | ModelVersion, guardrails: int | None = None) -> Predictor:
    """The model ready to predict: signature enforced, guardrails (latest) applied. A
    model whose format needs trust (pickle, TorchScript) is refused when the client's
    setting ``allow_pickle`` is false; the error names the version and the setting."""
    from prodml.predict.predictor import Predictor

    version = ref if isinstance(ref, ModelVersion) else get(client, ref)
    model = models.deserialise(
        client.read_blob(version.digest),
        version.ref,
        version.environment,
        client.settings.allow_pickle,
    )
    return Predictor(version, model, load_guardrails(client, version, guardrails))


def load_guardrails(
    client: Client, version: ModelVersion, number: int | None = None
) -> rails.Guardrails | None:
    found = client.metadata.guardrails_artifact(version.id, number)
    if found is None:
        if number is not None:
            raise NotFoundError(f"Model {version.ref} has no guardrails version {number}.")
        return None
    artifact = client.metadata.get_artifact(found[1])
    text = client.read_blob(artifact.digest).decode()
    from prodml.predict import guardrails as rails

    return rails.parse(yaml_text.parse(text, f"Guardrails of {version.ref}", "are"), found[0])
