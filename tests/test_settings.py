"""Settings come from PRODML_* variables, then prodml.toml, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodml import settings
from prodml.errors import InvalidInputError


def test_defaults_put_the_embedded_store_under_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRODML_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("PRODML_METADATA_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACT_URL", raising=False)
    loaded = settings.load(toml=tmp_path / "absent.toml")
    assert loaded.metadata_url == f"sqlite:///{tmp_path / 'h' / 'prodml.db'}"
    assert loaded.artifact_url == str(tmp_path / "h" / "blobs")
    assert loaded.flush_interval == 0.5


def test_environment_wins_over_the_toml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "prodml.toml"
    toml.write_text('[prodml]\nuser = "from-file"\nflush_interval = 2.5\n')
    monkeypatch.setenv("PRODML_USER", "from-env")
    monkeypatch.delenv("PRODML_FLUSH_INTERVAL", raising=False)
    loaded = settings.load(toml=toml)
    assert loaded.user == "from-env"
    assert loaded.flush_interval == 2.5


def test_a_bad_value_names_the_setting_and_where_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRODML_FLUSH_INTERVAL", "soon")
    with pytest.raises(InvalidInputError, match="PRODML_FLUSH_INTERVAL"):
        settings.load(toml=tmp_path / "absent.toml")


def test_a_broken_toml_file_is_named(tmp_path: Path) -> None:
    toml = tmp_path / "prodml.toml"
    toml.write_text("[prodml\n")
    with pytest.raises(InvalidInputError, match=r"prodml\.toml"):
        settings.load(toml=toml)


def test_import_prodml_loads_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, prodml; heavy = {'sqlalchemy', 'pyarrow', 'typer', 'duckdb', 'pandas'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_a_flush_interval_of_zero_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRODML_FLUSH_INTERVAL", "0")
    with pytest.raises(InvalidInputError, match="> 0"):
        settings.load(toml=tmp_path / "absent.toml")


def test_the_host_is_prodml_host_when_set_and_the_machine_name_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from prodml.deploy.heartbeats import process_id
    from prodml.predictions.segments import writer

    monkeypatch.setenv("PRODML_HOST", "gw-1 (eu)/" + "x" * 300)
    assert settings.host_name() == ("gw-1 (eu)/" + "x" * 300)[:200]
    assert process_id().startswith("gw-1 (eu)/xxx")
    assert writer().startswith("gw_1__eu__xxx")  # a file name: letters, digits, _ and .
    monkeypatch.delenv("PRODML_HOST")
    assert settings.host_name() == socket.gethostname()[:200]
