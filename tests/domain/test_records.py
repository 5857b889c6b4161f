"""Domain records: frozen, and keyword-only once they have more than four fields, so a
constructor call says which value is which (``ModelVersion(name=..., version=...)``)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import prodml.domain

MANY_FIELDS = 4


def _records() -> list[type]:
    found = []
    for module in pkgutil.iter_modules(prodml.domain.__path__):
        loaded = importlib.import_module(f"prodml.domain.{module.name}")
        found += [
            value
            for value in vars(loaded).values()
            if isinstance(value, type)
            and dataclasses.is_dataclass(value)
            and value.__module__ == loaded.__name__
        ]
    return sorted(found, key=lambda record: f"{record.__module__}.{record.__qualname__}")


RECORDS = _records()


def test_the_domain_has_records_to_check() -> None:
    names = {record.__name__ for record in RECORDS}
    assert {"Alert", "Rollout", "Window", "TokenRecord", "ModelVersion", "Run"} <= names


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.__qualname__)
def test_a_record_is_frozen_and_keyword_only_past_four_fields(record: type) -> None:
    fields = dataclasses.fields(record)
    assert record.__dataclass_params__.frozen, f"{record.__qualname__} is not frozen"  # type: ignore[attr-defined]
    if len(fields) > MANY_FIELDS:
        positional = [field.name for field in fields if not field.kw_only]
        assert positional == [], f"{record.__qualname__}: make it @dataclass(kw_only=True)"


def test_a_record_with_many_fields_refuses_positional_arguments() -> None:
    from prodml.domain.registry import Tag

    with pytest.raises(TypeError):
        Tag("churn", 1, "owner", "ml-team", None, "tester")  # type: ignore[misc]
