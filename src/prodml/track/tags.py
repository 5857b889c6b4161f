"""Run tags: labels set on a run at any time (``reviewed=yes``), searchable as ``tags.KEY``."""

from __future__ import annotations

from collections.abc import Mapping

from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.names import storable_text
from prodml.track.metrics import MAX_KEY

MAX_TAG_VALUE = 5000


def tag_run(client: Client, run_id: str, tags: Mapping[str, str]) -> None:
    if not isinstance(tags, Mapping) or not tags:
        raise InvalidInputError(f"Give tags as a mapping of names to text, not {tags!r:.60}.")
    run = client.metadata.get_run(run_id)
    for key, value in tags.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY or not storable_text(key):
            raise InvalidInputError(
                f"Tag name {key!r:.60} of run {run.id[:12]} must be text of 1 to {MAX_KEY} "
                "characters, valid UTF-8 without NUL."
            )
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE or not storable_text(value):
            raise InvalidInputError(
                f"Tag {key!r} of run {run.id[:12]} must be text of at most {MAX_TAG_VALUE} "
                f"characters without NUL, not {value!r:.60}."
            )
    client.metadata.set_run_tags(run.id, dict(tags))
