"""One resolver for what a person types to name a stored object, used by every
command and page that takes a reference.

Understood: a run, model-version, dataset-version, artifact or evaluation id (or a
prefix of one); ``DATASET@3``, ``DATASET@latest`` or ``DATASET@<digest prefix>``;
``MODEL@3``, ``MODEL@latest``, ``MODEL@<id prefix>`` and ``MODEL@alias`` (an alias as
it was at ``as_of`` when given); a bare ``NAME`` for its latest version. When a name
is both a dataset and a model, ``dataset:NAME@3`` or ``model:NAME@3`` says which."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from prodml import times
from prodml.client import Client, default_client
from prodml.domain.artifact import ModelVersion
from prodml.domain.ids import split_ref
from prodml.domain.lineage import Node, NodeKind
from prodml.errors import InvalidInputError, NotFoundError

MIN_ID_PREFIX = 4
FORMS = (
    "Give a run id (or its first characters), NAME@VERSION of a dataset or model, "
    "MODEL@champion (any alias), MODEL@latest, or an artifact id."
)


def resolve(ref: str, as_of: datetime | str | None = None, client: Client | None = None) -> Node:
    """The object ``ref`` names, as a lineage node (kind, id and a label a person
    recognises); what could not be found is named with the next step."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError(f"Reference {ref!r} is empty. {FORMS}")
    chosen = client or default_client()
    typed = ref.strip()
    moment = times.moment(as_of, "--as-of")
    if "@" in typed:
        return _versioned(chosen, typed, moment)
    return _by_id_or_name(chosen, typed, moment)


def _by_id_or_name(client: Client, ref: str, as_of: datetime | None) -> Node:
    from prodml.lineage import graph

    with contextlib.suppress(NotFoundError):
        if len(ref) >= MIN_ID_PREFIX:  # shorter is only ever a name
            return graph.resolve(client, ref)
    try:
        return _versioned(client, f"{ref}@latest", as_of)
    except NotFoundError:
        if len(ref) < MIN_ID_PREFIX:
            raise InvalidInputError(
                f"Id {ref!r} is too short and names no dataset or model: give at least "
                f"{MIN_ID_PREFIX} characters of an id. {FORMS}"
            ) from None
        raise NotFoundError(
            f"Nothing with id or name {ref!r} in this store. {FORMS} "
            "List what there is: prodml runs list, prodml datasets list, prodml models list"
        ) from None


def _versioned(client: Client, ref: str, as_of: datetime | None) -> Node:
    from prodml.lineage import graph

    kind, _, rest = ref.partition(":") if ref.startswith(("dataset:", "model:")) else ("", "", ref)
    name, version = split_ref(rest)
    found: list[Node] = []
    missing: list[str] = []
    if kind in ("", "dataset"):
        try:
            dataset = client.metadata.get_dataset_version(name, version)
            found.append(Node(NodeKind.DATASET, dataset.id, dataset.ref))
        except NotFoundError as error:
            missing.append(_dataset_missing(client, name, error))
    if kind in ("", "model"):
        try:
            model = _model(client, name, version, as_of)
            found.append(Node(NodeKind.MODEL, model.id, model.ref))
        except NotFoundError as error:
            missing.append(_model_missing(client, name, error))
    if not found:
        raise NotFoundError(
            f"No dataset or model version {rest!r} in this store: {_said(missing)} {FORMS}"
        )
    if len(found) > 1:
        raise InvalidInputError(
            f"{rest!r} is both a dataset and a model version; say which: "
            f"dataset:{rest} or model:{rest}."
        )
    return graph.label(client, found[0])


def _model(client: Client, name: str, version: str | None, as_of: datetime | None) -> ModelVersion:
    from prodml.predict.loading import get

    return get(client, f"{name}@{version or 'latest'}", as_of)


def _dataset_missing(client: Client, name: str, error: NotFoundError) -> str:
    if _exists(lambda: client.metadata.get_dataset_version(name)):
        return f"{error} See its versions: prodml datasets list {name}"
    return f"no dataset is named {name!r} (prodml datasets list)"


def _model_missing(client: Client, name: str, error: NotFoundError) -> str:
    if _exists(lambda: client.metadata.get_model_version(name)):
        return str(error)
    return f"no model is named {name!r} (prodml models list)"


def _exists(lookup: Callable[[], object]) -> bool:
    with contextlib.suppress(NotFoundError):
        lookup()
        return True
    return False


def _said(missing: list[str]) -> str:
    return "; ".join(text[0].lower() + text[1:].rstrip(".") for text in missing) + "."
