"""A metadata store in a PostgreSQL schema of its own: the URL whose connections use
that schema, and a throwaway schema (made empty, handed over as such a URL, dropped
with all it holds at the end) for tests, benchmarks and demos that each need a fresh
store on one shared server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

from prodml.errors import StoreError
from prodml.stores.engine import normalise_url


def schema_url(url: str, schema: str) -> str:
    """``url`` with the ``search_path`` of its connections set to ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def throwaway_schema(url: str, prefix: str) -> Iterator[str]:
    """A URL to a new, empty schema ``PREFIX_<12 hex digits>`` on the PostgreSQL at
    ``url``; the schema is dropped, with everything in it, on leaving the block."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(url))
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {name}")
    except sa.exc.OperationalError as error:
        admin.dispose()
        shown = sa.make_url(url).render_as_string(hide_password=True)
        raise StoreError(
            f"PostgreSQL at {shown} is not reachable ({type(error.orig).__name__}). "
            "Start it, or give the URL of one that is."
        ) from None
    try:
        yield schema_url(url, name)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        admin.dispose()
