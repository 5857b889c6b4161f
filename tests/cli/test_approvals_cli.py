"""``prodml models require-approval``, ``approve`` and ``approvals`` as a user runs
them: promotion refused (exit 1) until the required approver has approved."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from cli_process import run_prodml
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client


def test_promotion_waits_for_the_approver_named_on_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        frame = pd.DataFrame({"a": [0.1, -0.2, 0.3, -0.4], "b": [1.0, 2.0, 3.0, 4.0]})
        with prodml.start_run("fit", client=client) as run:
            run.log_model(LogisticRegression().fit(frame, [1, 0, 1, 0]), "m", frame)
    finally:
        client.close()

    neither = run_prodml(home, "models", "require-approval", "m")
    assert neither.returncode == 1 and "--by NAMES" in neither.stderr + neither.stdout
    required = run_prodml(home, "models", "require-approval", "m", "--by", "dana,erin")
    assert required.returncode == 0 and "sign-off by dana, erin" in required.stdout
    promote = ["models", "promote", "m", "1", "--force", "--why", "first"]
    refused = run_prodml(home, *promote)
    assert refused.returncode == 1
    assert "dana, erin have not approved it" in refused.stderr + refused.stdout

    approved = run_prodml(home, "models", "approve", "m", "1", "--why", "reviewed")
    assert approved.returncode == 0, approved.stderr
    assert "dana approved m@1; still waiting for erin." in approved.stdout
    shown = run_prodml(home, "models", "approvals", "m", "1", "--json")
    signed = json.loads(shown.stdout)
    assert (signed["missing"], signed["complete"]) == (["erin"], False)
    assert [a["approver"] for a in signed["sign_off"]["given"]] == ["dana"]

    run_prodml(home, "models", "require-approval", "m", "--by", "dana")
    assert run_prodml(home, *promote).returncode == 0
    text = run_prodml(home, "models", "approvals", "m", "1").stdout
    assert "approved by dana" in text and "sign-off complete" in text


def test_rollout_status_says_the_last_step_waits_for_sign_off(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        frame = pd.DataFrame({"a": [0.1, -0.2, 0.3, -0.4], "b": [1.0, 2.0, 3.0, 4.0]})
        with prodml.start_run("fit", client=client) as run:
            for c in (1.0, 2.0):
                run.log_model(LogisticRegression(C=c).fit(frame, [1, 0, 1, 0]), "m", frame)
        prodml.promote("m", 1, force=True, why="first", client=client)
        prodml.start_rollout("m", 2, plan={"stages": [{"stage": "full"}]}, client=client)
        prodml.require_approval("m", "erin", client=client)
    finally:
        client.close()

    shown = run_prodml(home, "rollout", "status", "m")

    assert shown.returncode == 0, shown.stderr
    assert "awaiting sign-off: completes only after approval by erin" in shown.stdout
    assert "prodml models approve m 2" in shown.stdout
