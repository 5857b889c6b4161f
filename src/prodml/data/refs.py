"""Resolving dataset references (``NAME@VERSION``) without loading table libraries."""

from __future__ import annotations

from prodml.client import Client
from prodml.domain.dataset import DatasetVersion
from prodml.domain.ids import split_ref
from prodml.errors import InvalidInputError, NotFoundError


def get_dataset(client: Client, ref: str) -> DatasetVersion:
    """``NAME``, ``NAME@3``, ``NAME@latest`` or ``NAME@<digest prefix>``."""
    if not isinstance(ref, str):
        raise InvalidInputError(
            f"A dataset reference is text such as 'flights@3', not {type(ref).__name__} "
            f"{ref!r:.40}."
        )
    name, version = split_ref(ref)
    if not name.strip():  # not found, as other names: callers add where it was given
        raise NotFoundError(
            f"Dataset reference {ref!r} names no dataset: give NAME@VERSION, e.g. "
            "flights@3 or flights@latest. List datasets: prodml datasets list"
        )
    return client.metadata.get_dataset_version(name, version)


def resolve_input(client: Client, item: DatasetVersion | str) -> DatasetVersion:
    if isinstance(item, DatasetVersion):
        return item
    if isinstance(item, str):
        return get_dataset(client, item)
    raise InvalidInputError(
        f"Run input {item!r} is not a dataset version. Pass the value log_dataset "
        "returned or a reference such as 'flights@2'."
    )
