"""The checks document as a typed model (read by :mod:`prodml.data.checks`). Each check
says where its bound came from (``from``); a null check or column means "no check"."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from prodml.documents import Document, Name

Share = Annotated[float, Field(ge=0)]
Scalar = str | int | float | bool


class Source(Document):
    from_: str | None = Field(None, alias="from", description="where the bound came from")


class BoundDocument(Source):
    """A soft check: the statistic stays within [min, max] (either may be left out)."""

    model_config = ConfigDict(title="Bound")

    min: float | None = Field(None, description="the least value allowed")
    max: float | None = Field(None, description="the most value allowed")


class RequiredDocument(Source):
    model_config = ConfigDict(title="Required")

    expect: bool = Field(True, description="a hard check: the column must be present")


class TypeDocument(Source):
    model_config = ConfigDict(title="Type")

    expect: str | None = Field(None, description="a hard check: the column's type, e.g. double")


class RangeDocument(Source):
    """Values outside [min, max] may be at most ``max_outside_share`` of the rows."""

    model_config = ConfigDict(title="Range")

    min: float | None = Field(None, description="the least value seen")
    max: float | None = Field(None, description="the most value seen")
    max_outside_share: Share | None = Field(0.0, description="share of rows allowed outside")


class CategoriesDocument(Source):
    """Values not ``allowed`` may be at most ``max_new_share`` of the rows."""

    model_config = ConfigDict(title="Categories")

    allowed: list[Scalar] | None = Field(None, description="the values seen (null: too many)")
    max_new_share: Share | None = Field(0.0, description="share of rows of any one new value")


class ColumnDocument(Document):
    model_config = ConfigDict(title="Column checks")

    required: RequiredDocument | None = Field(None, description="whether the column must be there")
    type: TypeDocument | None = Field(None, description="the type the column must have")
    null_share: BoundDocument | None = Field(None, description="share of nulls and NaNs")
    range: RangeDocument | None = Field(None, description="numbers: the range of values")
    categories: CategoriesDocument | None = Field(None, description="text: the values seen")


class UniqueDocument(Source):
    model_config = ConfigDict(title="Unique key")

    columns: list[Name] = Field(description="columns whose values together identify a row")


class TableDocument(Document):
    model_config = ConfigDict(title="Table checks")

    duplicate_share: BoundDocument | None = Field(None, description="share of repeated rows")
    row_count: BoundDocument | None = Field(None, description="rows in a batch")
    unique: UniqueDocument | None = Field(None, description="a key: no two rows share it")


class ChecksDocument(Document):
    """Checks inferred from history (``prodml checks infer``), edited and versioned by a
    team. Schema checks (required, type) are hard and block; the others are soft."""

    model_config = ConfigDict(title="Checks")

    format: int = Field(1, description="the version of this file's layout")
    history: str | None = Field(None, description="the history the checks came from")
    batches: Annotated[int, Field(ge=0)] | None = Field(None, description="batches in it")
    inferred_at: str | datetime | date | None = Field(
        None, description="when the checks were inferred"
    )
    table: TableDocument | None = Field(None, description="checks of the whole batch")
    columns: dict[str, ColumnDocument | None] = Field(
        description="checks per column, by name (prodml checks infer NAME writes them)"
    )
