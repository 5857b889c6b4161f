"""Artifacts and model versions: named references to content-addressed blobs.

A model version's format is how its blob is stored (``environment["format"]``; a
version logged before formats were recorded is ``pickle``). Loading a format in
``NEEDS_TRUST`` runs code from the blob: pickle runs any callable it names, and
TorchScript is a program. Every other format is data that its library reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PICKLE = "pickle"
NEEDS_TRUST = frozenset({PICKLE, "torchscript"})


@dataclass(frozen=True, kw_only=True)
class Artifact:
    id: str
    owner_kind: str
    owner_id: str
    name: str
    digest: str
    size: int
    media_type: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class ModelVersion:
    """A model logged by a run, versioned under its name."""

    id: str
    name: str
    version: int
    run_id: str
    digest: str
    flavor: str
    author: str
    created_at: datetime
    signature: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def format(self) -> str:
        """How the model's blob is stored: ``onnx``, ``xgboost-ubj``, ``skops``, ``pickle``..."""
        return str(self.environment.get("format", PICKLE))

    @property
    def needs_trust(self) -> bool:
        """Loading it runs code from the blob (see the module docstring)."""
        return self.format in NEEDS_TRUST
