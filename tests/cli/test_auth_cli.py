"""``prodml auth`` and the guards it turns on, run as a user runs them: real processes
on a real store, each with its own environment."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_process import COMMAND
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client

DENIED = 3  # the exit code of an access refusal


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A store with model ``m``: v2 champion after v1."""
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    generator = np.random.default_rng(2)
    frame = pd.DataFrame({"a": generator.normal(size=40), "b": generator.normal(size=40)})
    labels = (frame["a"] > 0).astype(int)
    try:
        with prodml.start_run("fit", client=client) as run:
            for c in (1.0, 2.0):
                version = run.log_model(LogisticRegression(C=c).fit(frame, labels), "m", frame)
                client.metadata.move_alias("m", "champion", version.version, version.id, "setup")
    finally:
        client.close()
    return home


def cli(home: Path, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """``prodml ARGS`` with only the PRODML_* variables given here (and the store's)."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    result = subprocess.run(
        [*COMMAND, *args],
        env={**kept, "PRODML_HOME": str(home), "PRODML_USER": "dana", "COLUMNS": "1000",
             **environment},
        cwd=home.parent, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    assert "Unexpected error" not in result.stderr, result.stderr
    return result


def test_auth_enabled_on_the_store_holds_against_a_callers_own_environment(home: Path) -> None:
    enabled = cli(home, "auth", "enable", "admin", "--why", "shared store")
    found = re.search(r"pml_[A-Za-z0-9_\-]+", enabled.stdout)
    assert enabled.returncode == 0 and found, enabled.stdout
    token = found.group(0)

    bypass = cli(home, "rollback", "m", PRODML_AUTH="off")
    made = cli(home, "tokens", "create", "ci", "--role", "predictor")
    status = cli(home, "auth", "status", PRODML_TOKEN=token)
    rolled = cli(home, "rollback", "m", "--why", "slow", PRODML_TOKEN=token)
    off = cli(home, "auth", "disable", PRODML_AUTH="off")

    assert "Auth is now admin (was off)" in enabled.stdout
    assert "A first deployer token 'deployer' was made for you" in enabled.stdout
    assert bypass.returncode == DENIED
    assert "rollback needs a token with the deployer role (no token given)" in bypass.stderr
    assert made.returncode == DENIED
    assert "making or revoking a token needs a token with the deployer role" in made.stderr
    assert "Auth: admin, set by dana" in status.stdout
    assert "PRODML_TOKEN: 'deployer' (deployer)." in status.stdout
    assert rolled.returncode == 0 and "m@champion -> v1 (was v2)" in rolled.stdout
    assert off.returncode == DENIED
    turned_off = cli(home, "auth", "disable", PRODML_TOKEN=token)
    assert "Auth is now off (was admin)" in turned_off.stdout
    assert "Auth: off" in cli(home, "auth", "status").stdout


def test_champion_cannot_be_unprotected_nor_moved_by_alias(home: Path) -> None:
    unprotect = cli(home, "models", "protect", "m", "champion", "--off")
    moved = cli(home, "models", "alias", "m@1", "champion")
    history = cli(home, "models", "history", "m")

    assert unprotect.returncode == 1
    assert "m@champion is always protected" in unprotect.stderr
    assert "prodml models promote m VERSION" in unprotect.stderr
    assert moved.returncode == 1 and "protected" in moved.stderr
    assert "champion = v2" in history.stdout


def test_with_auth_on_aliases_guardrails_and_promotion_need_a_deployer_token(
    home: Path, tmp_path: Path
) -> None:
    token = re.findall(r"pml_[A-Za-z0-9_\-]+", cli(home, "auth", "enable", "all").stdout)[0]
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: unsure\n    confidence_below: 0.6\n    abstain: true\n")
    commands = [
        ("models", "alias", "m@1", "challenger"),
        ("models", "protect", "m", "stable"),
        ("models", "guardrails", "m@2", str(rules)),
        ("models", "promote", "m", "1", "--force", "--why", "hotfix"),
    ]

    refused = [cli(home, *command, PRODML_TOKEN="pml_guess") for command in commands]
    done = [cli(home, *command, PRODML_TOKEN=token) for command in commands]

    assert [r.returncode for r in refused] == [DENIED] * len(commands)
    assert all("(unknown token given)" in r.stderr for r in refused)
    assert [r.returncode for r in done] == [0] * len(commands), [r.stderr for r in done]
    assert "m@challenger -> v1" in done[0].stdout
    assert "Guardrails version 1 attached to m@2" in done[2].stdout
