"""Artifacts and model versions: named references to content-addressed blobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
