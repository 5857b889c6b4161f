"""Dataset versions: content-addressed tables or sets of files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class DatasetKind(StrEnum):
    TABLE = "table"
    FILES = "files"


@dataclass(frozen=True, kw_only=True)
class ColumnSummary:
    """Per-column summary kept with every table version, used by diffs."""

    name: str
    type: str
    nulls: int
    distinct: int | None = None
    min: Any = None
    max: Any = None
    mean: float | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetVersion:
    """One immutable version; its id is the BLAKE3 digest of its content."""

    id: str
    name: str
    version: int
    kind: DatasetKind
    author: str
    created_at: datetime
    num_rows: int | None
    num_files: int
    num_bytes: int
    schema: dict[str, str] = field(default_factory=dict)
    columns: tuple[ColumnSummary, ...] = ()
    key: tuple[str, ...] = ()
    source: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    """One file of a files-kind dataset version: its own blob, or ``size`` bytes at
    ``offset`` inside the pack blob ``pack`` (small files are stored together)."""

    path: str
    digest: str
    size: int
    pack: str | None = None
    offset: int | None = None


@dataclass(frozen=True)
class SchemaChange:
    column: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ColumnChange:
    column: str
    statistic: str
    before: Any
    after: Any


@dataclass(frozen=True, kw_only=True)
class DatasetDiff:
    before: DatasetVersion
    after: DatasetVersion
    schema_changes: tuple[SchemaChange, ...]
    rows_before: int | None
    rows_after: int | None
    rows_added: int
    rows_removed: int
    rows_changed: int
    column_changes: tuple[ColumnChange, ...]
    matched_by: str

    @property
    def is_empty(self) -> bool:
        return not (
            self.schema_changes
            or self.rows_added
            or self.rows_removed
            or self.rows_changed
            or self.column_changes
        )
