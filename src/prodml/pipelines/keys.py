"""A step's cache key: the digest of its code, its config slice, the content of its
inputs and the versions of the packages it names. Equal keys, equal outputs (for a
deterministic step), so a key computed before is a step that need not run."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping

from prodml.pipelines.config import canonical
from prodml.pipelines.plan import Step

KEY_FORMAT = 1  # raised when what goes into a key changes, so old keys stop matching


def step_key(pipeline: str, step: Step, inputs: Mapping[str, str]) -> str:
    """``inputs`` maps each argument to its content digest (a dataset version's id is
    the digest of its content, so a table logged again unchanged keeps its key). The
    names its outputs are stored under are part of it: a renamed pipeline, step or
    model stores its outputs under the new names."""
    parts = {
        "format": KEY_FORMAT,
        "names": [pipeline, step.name, step.model],
        "code": step.code,
        "config": step.config,
        "inputs": dict(inputs),
        "packages": step.packages,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    return hashlib.sha256(canonical(parts).encode()).hexdigest()
