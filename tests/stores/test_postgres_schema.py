"""A store in a PostgreSQL schema of its own: a throwaway schema starts empty, keeps a
store's tables apart from the server's default schema, and is gone afterwards, with
everything written into it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import prodml
from prodml.client import Client
from prodml.errors import StoreError
from prodml.stores.engine import normalise_url
from prodml.stores.postgres_schema import schema_url, throwaway_schema


@contextlib.contextmanager
def _inspector(url: str) -> Iterator[sa.Inspector]:
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            yield sa.inspect(connection)
    finally:
        engine.dispose()


def _schemas(server: str) -> set[str]:
    with _inspector(server) as found:
        return set(found.get_schema_names())


def _tables(url: str) -> set[str]:
    with _inspector(url) as found:
        return set(found.get_table_names())


def test_a_schema_url_adds_the_search_path_to_a_url_with_or_without_a_query() -> None:
    plain = schema_url("postgresql://db/prod", "team_a")
    assert plain == "postgresql://db/prod?options=-csearch_path%3Dteam_a"
    with_query = schema_url("postgresql://db/prod?sslmode=require", "team_a")
    assert with_query == "postgresql://db/prod?sslmode=require&options=-csearch_path%3Dteam_a"


def test_a_throwaway_schema_holds_a_store_and_is_dropped_with_it(
    postgres_server: str, tmp_path: Path
) -> None:
    before = _schemas(postgres_server)
    with throwaway_schema(postgres_server, "dropme") as url:
        [made] = {name for name in _schemas(postgres_server) - before if "dropme" in name}
        assert made.startswith("dropme_") and url.endswith(made)
        assert _tables(url) == set()
        client = Client(home=str(tmp_path), metadata_url=url, user="tester")
        with prodml.start_run("in-a-schema", client=client) as run:
            run.log_metric("auc", 0.9)
        client.close()
        assert "runs" in _tables(url)
    assert made not in _schemas(postgres_server)


def test_an_unreachable_server_is_one_error_naming_it_without_its_password() -> None:
    with (
        pytest.raises(StoreError, match=r"PostgreSQL at postgresql://dana:\*\*\*@127\.0\.0\.1:1/t"),
        throwaway_schema("postgresql://dana:secret@127.0.0.1:1/test", "never"),
    ):
        pass
