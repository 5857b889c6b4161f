"""The dataset versions a pipeline's steps read, resolved once for a run (``@latest``
fixed for the whole run) and checked before any step runs."""

from __future__ import annotations

from prodml.client import Client
from prodml.data.refs import get_dataset
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.errors import InvalidInputError
from prodml.pipelines.plan import Pipeline


def resolved(client: Client, pipeline: Pipeline) -> dict[str, DatasetVersion]:
    """Every dataset version a step reads, by the reference the pipeline gives; a set
    of files where a step takes a table is refused naming the step and its input."""
    refs = {s for step in pipeline.steps for s in step.inputs.values() if "@" in s}
    found = {ref: get_dataset(client, ref) for ref in sorted(refs)}
    for step in pipeline.steps:
        for argument, ref in step.inputs.items():
            version = found.get(ref)
            if version is not None and version.kind is not DatasetKind.TABLE:
                raise InvalidInputError(
                    f"Step {step.name!r}: input {argument!r} is {version.ref}, a set of files, "
                    "not a table; a step reads tables. Give a table version, or read the "
                    "files in the step with prodml.checkout(ref, folder)."
                )
    return found
