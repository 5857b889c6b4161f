"""The model registry: aliases moved with a reason, protected aliases, tags,
registration from a run, guardrails attached. Versions are resolved in
:mod:`prodml.predict.loading`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prodml import yaml_text
from prodml.client import Client
from prodml.domain.artifact import Artifact, ModelVersion
from prodml.domain.ids import new_id, utcnow
from prodml.domain.registry import CHAMPION, AliasMove
from prodml.errors import InvalidInputError, NotFoundError
from prodml.names import check_name
from prodml.predict.loading import get
from prodml.track import model as models

_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,62}$")


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == "latest":
        raise InvalidInputError(
            f"Alias {alias!r} is not valid: start with a letter, then letters, digits, '_' or "
            "'-' (not 'latest', which always means the newest version)."
        )
    return alias


def attach_guardrails(client: Client, ref: str, rules: Any) -> int:
    """Store rules (a YAML file, its text or a mapping) as the next guardrails version
    of a model version; it applies wherever that version predicts from now on."""
    version = get(client, ref)
    if isinstance(rules, str | Path) and Path(rules).is_file():
        text = Path(rules).read_text()
    elif isinstance(rules, str):
        text = rules
    else:
        import yaml  # here: reading the registry does not need it

        text = yaml.safe_dump(rules, sort_keys=False)
    from prodml.predict import guardrails as rails  # loads the table libraries

    document = yaml_text.parse(text, "Guardrails", "are")
    rails.parse(document)
    digest, size = client.artifacts.put_bytes(text.encode())
    artifact = Artifact(
        id=new_id(),
        owner_kind="model",
        owner_id=version.id,
        name="guardrails.yaml",
        digest=digest,
        size=size,
        media_type="application/yaml",
        created_at=utcnow(),
    )
    client.metadata.add_artifact(artifact)
    return client.metadata.add_guardrails(version.id, artifact.id)


def set_alias(client: Client, ref: str, alias: str, reason: str | None = None) -> AliasMove:
    """Point an unprotected alias at a version; protected ones move only by promote."""
    version = get(client, ref)
    check_alias(alias)
    if alias in protected(client, version.name):
        raise InvalidInputError(
            f"Alias {alias!r} of {version.name!r} is protected: it moves only through the gate. "
            f"Run: prodml models promote {version.name} {version.version} --to {alias}"
        )
    return client.metadata.move_alias(version.name, alias, version.version, version.id, reason)


def remove_alias(client: Client, name: str, alias: str, reason: str | None = None) -> AliasMove:
    current = client.metadata.alias_version(name, alias)
    if current is None:
        raise NotFoundError(
            f"Model {name!r} has no alias {alias!r}. See: prodml models history {name}"
        )
    if alias in protected(client, name) and not reason:
        raise InvalidInputError(
            f"Alias {alias!r} of {name!r} is protected: give a reason to remove it."
        )
    version = client.metadata.get_model_version(name, str(current))
    return client.metadata.move_alias(name, alias, None, version.id, reason, forced=bool(reason))


def protect(client: Client, name: str, alias: str, on: bool = True) -> None:
    client.metadata.get_model_version(name, None)
    if alias == CHAMPION and not on:
        raise InvalidInputError(
            f"{name}@{CHAMPION} is always protected: it moves only through the gate (prodml "
            f"models promote {name} VERSION), a rollout or a rollback. Another alias can be "
            "unprotected."
        )
    client.metadata.set_protected(name, check_alias(alias), on)


def protected(client: Client, name: str) -> frozenset[str]:
    """The protected aliases of ``name``: champion always, whatever a store says."""
    return client.metadata.protected(name) | {CHAMPION}


def tag(client: Client, ref: str, key: str, value: str) -> None:
    version = get(client, ref)
    if not key or len(key) > 255:
        raise InvalidInputError(f"Tag key {key!r} is not valid: use 1-255 characters.")
    client.metadata.set_tag(version.id, key, str(value))


def register(client: Client, run_id: str, name: str, source: str | None = None) -> ModelVersion:
    """A new version of ``name`` from a run: one of the models it logged (``source`` names
    it when there are several) or a pickled-model artifact of the run named ``source``."""
    check_name(name, "model")
    store = client.metadata
    run = store.get_run(store.resolve_run(run_id))
    logged = store.models_of_run(run.id)
    matching = [m for m in logged if source is None or m.name == source or m.ref == source]
    chosen = list({m.digest: m for m in reversed(matching)}.values())  # one per model content
    if len(chosen) == 1:
        base = chosen[0]
        return store.add_model_version(
            ModelVersion(
                id="",
                name=name,
                version=0,
                run_id=run.id,
                digest=base.digest,
                flavor=base.flavor,
                author=client.settings.user,
                created_at=utcnow(),
                signature=base.signature,
                environment=base.environment,
            )
        )
    artifacts = [
        a for a in store.list_artifacts("run", run.id) if source is not None and a.name == source
    ]
    if artifacts:
        payload = client.read_blob(artifacts[0].digest)
        model = models.deserialise(
            payload, f"artifact {source}", run.environment, client.settings.allow_pickle
        )
        models.serialise(model, name)  # refuses an object without predict
        return store.add_model_version(
            ModelVersion(
                id="",
                name=name,
                version=0,
                run_id=run.id,
                digest=artifacts[0].digest,
                flavor=models.flavor(model),
                author=client.settings.user,
                created_at=utcnow(),
                signature={},
                environment=models.model_environment(model),
            )
        )
    names = ", ".join(m.ref for m in logged) or "none"
    raise InvalidInputError(
        f"Run {run.id[:12]} has {'no model' if not logged else 'several models'} to register "
        f"(models logged: {names}). Name one with --from NAME, or a pickled model artifact."
    )


@dataclass(frozen=True)
class History:
    name: str
    moves: list[AliasMove]
    aliases: dict[str, int]
    as_of: datetime | None


def history(client: Client, name: str, as_of: datetime | None = None) -> History:
    """Every alias move of ``name`` and the aliases it had at ``as_of`` (now by default)."""
    client.metadata.get_model_version(name, None)
    when = as_of.timestamp() if as_of else None
    return History(
        name, client.metadata.alias_moves(name), client.metadata.aliases(name, when), as_of
    )
