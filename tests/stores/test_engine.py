"""Opening the metadata store: migrations to the head, refusing newer stores, and
errors that say what to fix instead of a driver traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from prodml import stores
from prodml.client import Client
from prodml.errors import StoreError, StoreVersionError
from prodml.stores.engine import normalise_url
from prodml.stores.metadata import open_metadata
from prodml.stores.schema import HEAD_REVISION
from prodml.stores.schema import metadata as schema_metadata

UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/test"
Processes = Callable[..., list[subprocess.CompletedProcess[str]]]
Command = Callable[..., subprocess.CompletedProcess[str]]


def snapshot(url: str) -> dict[str, Any]:
    """Every table of the store with all its rows, read without prodml."""
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            names = sorted(sa.inspect(connection).get_table_names())
            tables = sa.MetaData()
            tables.reflect(connection, only=names)
            return {
                name: sorted(
                    map(tuple, connection.execute(sa.select(tables.tables[name]))), key=repr
                )
                for name in names
            }
    finally:
        engine.dispose()


def test_a_fresh_store_is_created_at_the_head_revision(metadata_url: str) -> None:
    store = open_metadata(metadata_url, "tester", 5.0)
    store.record_event("store.opened", ("store", "metadata"), "first open")
    store.close()

    tables = snapshot(metadata_url)

    assert tables["alembic_version"] == [(HEAD_REVISION,)]
    assert set(schema_metadata.tables) <= set(tables)
    reopened = open_metadata(metadata_url, "tester", 5.0)
    try:
        assert [e.reason for e in reopened.list_events()] == ["first open"]
    finally:
        reopened.close()


def test_a_store_from_a_newer_prodml_is_refused_and_left_unchanged(metadata_url: str) -> None:
    store = open_metadata(metadata_url, "tester", 5.0)
    store.record_event("store.opened", ("store", "metadata"), "written by a newer prodml")
    with store.write() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    before = snapshot(metadata_url)

    with pytest.raises(StoreVersionError) as raised:
        open_metadata(metadata_url, "tester", 5.0)

    message = str(raised.value)
    assert "9999" in message and HEAD_REVISION in message
    assert "pip install --upgrade prodml" in message
    assert snapshot(metadata_url) == before


def test_processes_opening_one_new_store_at_once_all_succeed(
    metadata_url: str, together: Processes
) -> None:
    code = """
from prodml.stores.metadata import open_metadata
start_together()
store = open_metadata(_sys.argv[3], "process-" + _sys.argv[2], 30.0)
store.record_event("store.opened", ("store", "metadata"), "opened at once")
store.close()
print("opened")
"""
    finished = together(code, [[metadata_url]] * 4)

    for process in finished:
        assert (process.returncode, process.stdout.strip()) == (0, "opened"), process.stderr
    tables = snapshot(metadata_url)
    assert tables["alembic_version"] == [(HEAD_REVISION,)]
    assert len(tables["events"]) == 4


@pytest.mark.parametrize("url", ["mysql://root@localhost/prodml", "not a url at all"])
def test_an_unsupported_url_names_the_setting_to_fix(tmp_path: Path, url: str) -> None:
    client = Client(home=str(tmp_path), metadata_url=url)

    with pytest.raises(StoreError) as raised:
        client.metadata  # noqa: B018 - the store is opened on first use

    assert "PRODML_METADATA_URL" in str(raised.value)
    assert "sqlite:///" in str(raised.value)


def test_a_sqlite_path_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store folder should be")

    with pytest.raises(StoreError) as raised:
        open_metadata(f"sqlite:///{blocker / 'prodml.db'}", "tester", 1.0)

    assert str(blocker) in str(raised.value)
    assert "PRODML_METADATA_URL" in str(raised.value)


def test_an_unreachable_postgresql_is_a_store_error_not_a_driver_traceback() -> None:
    with pytest.raises(StoreError) as raised:
        open_metadata(UNREACHABLE_POSTGRES, "tester", 1.0)

    message = str(raised.value)
    assert "127.0.0.1" in message and "PRODML_METADATA_URL" in message
    assert raised.value.__cause__ is None


def test_the_cli_reports_an_unreachable_store_in_one_line(prodml_cli: Command) -> None:
    done = prodml_cli("runs", "list", PRODML_METADATA_URL=UNREACHABLE_POSTGRES)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "Error:" in done.stderr and "PRODML_METADATA_URL" in done.stderr


def test_a_store_at_an_older_revision_is_upgraded_and_keeps_its_data(metadata_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from prodml.stores import engine as engines

    old = engines.create(metadata_url, busy_timeout=5)
    config = Config()
    config.set_main_option("script_location", str(Path(engines.__file__).with_name("migrations")))
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO dataset_files (version_id, path, digest, size) "
            "VALUES ('v1', 'a.txt', 'd1', 3)"
        )
    old.dispose()

    store = open_metadata(metadata_url, "tester")
    try:
        files = store.dataset_files("v1")
        with store.read() as connection:
            revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert revision.scalar() == HEAD_REVISION
    finally:
        store.close()
    assert [(f.path, f.digest, f.size, f.pack) for f in files] == [("a.txt", "d1", 3, None)]


def test_the_event_log_refuses_updates_and_deletes(client: Client) -> None:
    client.metadata.record_event("note", ("store", "metadata"), "kept forever")
    for statement in ("UPDATE events SET reason = 'rewritten'", "DELETE FROM events"):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            client.metadata.engine.begin() as connection,
        ):
            connection.exec_driver_sql(statement)
    assert [e.reason for e in client.metadata.list_events()] == ["kept forever"]


def test_the_head_revision_is_the_newest_migration() -> None:
    folder = Path(stores.__file__).parent / "migrations" / "versions"
    newest = max(path.name.split("_")[0] for path in folder.glob("[0-9]*_*.py"))

    assert newest == HEAD_REVISION
