"""Sign-off: a model that requires approvers becomes champion only once each has
approved that very version, whatever the gate says and with or without --force; a
rollout waits at its last step for them; the approver is the token's name."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.deploy import controller, rollouts
from prodml.deploy.criteria import PASS
from prodml.domain.artifact import ModelVersion
from prodml.errors import AccessDeniedError, GateRefusedError, InvalidInputError

FULL = {"stages": [{"stage": "full"}]}


@pytest.fixture
def as_(client: Client) -> Iterator[Callable[..., Client]]:
    """Clients on the same store acting as someone else: ``as_(user="alice")``."""
    made: list[Client] = []

    def other(**changes: str) -> Client:
        made.append(Client(**{**dataclasses.asdict(client.settings), **changes}))
        return made[-1]

    yield other
    for one in made:
        one.close()


def _champion(client: Client) -> int | None:
    return prodml.get_model("m@champion", client=client).version


def test_champion_waits_for_every_required_approver_even_when_forced(
    client: Client, three_versions: list[ModelVersion], as_: Callable[..., Client]
) -> None:
    required = prodml.require_approval("m", "alice, bob", why="PM and risk", client=client)
    assert required.required == ("alice", "bob") and required.set_by == "tester"

    with pytest.raises(GateRefusedError) as refused:
        prodml.promote("m", 3, force=True, why="no suite yet", client=client)
    message = str(refused.value)
    assert "m@3 needs sign-off" in message and "alice, bob have not approved it" in message
    assert "prodml models approve m 3" in message

    prodml.approve("m", 3, why="metrics reviewed", client=as_(user="alice"))
    with pytest.raises(GateRefusedError, match=r"bob has not approved it \(approved by alice\)"):
        prodml.promote("m", 3, force=True, why="no suite yet", client=client)
    assert _champion(client) == 2

    prodml.approve("m", "3", client=as_(user="bob"))
    prodml.promote("m", 3, force=True, why="no suite yet", client=client)

    assert _champion(client) == 3
    signed = prodml.approvals("m", 3, client=client)
    assert [(a.approver, a.reason) for a in signed.given] == [
        ("alice", "metrics reviewed"),
        ("bob", None),
    ]
    assert signed.complete and signed.missing == ()


def test_an_approval_of_one_version_does_not_count_for_the_next(
    client: Client, three_versions: list[ModelVersion], as_: Callable[..., Client]
) -> None:
    prodml.require_approval("m", ["alice"], client=client)
    prodml.approve("m", 3, client=as_(user="alice"))
    with prodml.start_run("fit", client=client) as run:
        frame = pd.DataFrame({"a": [0.1, -0.2, 0.3, -0.4], "b": [1.0, 2.0, 3.0, 4.0]})
        model = LogisticRegression().fit(frame, [1, 0, 1, 0])
        fourth = run.log_model(model, "m", frame.head())
    assert fourth.version == 4

    with pytest.raises(
        GateRefusedError, match="m@4 needs sign-off before it becomes champion: alice has not"
    ):
        prodml.promote("m", 4, force=True, why="v4 is better", client=client)

    assert prodml.approvals("m", 4, client=client).missing == ("alice",)
    assert prodml.approvals("m", 3, client=client).complete


def test_only_a_required_approver_may_approve_and_twice_keeps_the_first(
    client: Client, three_versions: list[ModelVersion], as_: Callable[..., Client]
) -> None:
    with pytest.raises(InvalidInputError, match="'m' requires no sign-off"):
        prodml.approve("m", 3, client=client)
    prodml.require_approval("m", "alice", client=client)
    with pytest.raises(InvalidInputError, match="'carol' is not among the approvers 'm' requires"):
        prodml.approve("m", 3, client=as_(user="carol"))

    alice = as_(user="alice")
    first = prodml.approve("m", 3, why="first look", client=alice)
    again = prodml.approve("m", 3, why="second look", client=alice)

    assert again == first and again.reason == "first look"
    actions = [e.action for e in prodml.events(client=client)]
    assert actions.count("model.approved") == 1


def test_clearing_the_requirement_lets_the_gate_alone_decide(
    client: Client, three_versions: list[ModelVersion]
) -> None:
    prodml.require_approval("m", "alice", client=client)
    cleared = prodml.require_approval(
        "m", [], why="sign-off moved to the release board", client=client
    )
    assert cleared.required == ()

    prodml.promote("m", 3, force=True, why="hotfix", client=client)

    assert _champion(client) == 3


def test_the_gate_and_the_approvals_are_both_required(
    client: Client, as_: Callable[..., Client]
) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    labels = (frame["a"] + rng.normal(scale=0.5, size=200) > 0).astype("int64")
    prodml.log_dataset("holdout", frame.assign(label=labels), client=client)
    with prodml.start_run("fit", client=client) as run:
        good = run.log_model(LogisticRegression().fit(frame, labels), "m", frame.head())
    strict = {"rules": [{"metric": "accuracy", "at_least": 0.99}]}
    fair = {"rules": [{"metric": "accuracy", "at_least": 0.6}]}
    suite = {
        "task": "classification",
        "label": "label",
        "validation_sets": ["holdout"],
        "metrics": ["accuracy"],
        "bootstrap": {"resamples": 100},
        "auto_slices": {"count": 0},
    }
    prodml.register_suite("m", {**suite, "gate": strict}, client=client)
    prodml.require_approval("m", "alice", client=client)

    with pytest.raises(GateRefusedError, match="needs sign-off"):  # neither
        prodml.promote("m", good.version, client=client)
    prodml.approve("m", good.version, client=as_(user="alice"))
    with pytest.raises(GateRefusedError, match="The gate refused m@1"):  # approvals alone
        prodml.promote("m", good.version, client=client)
    assert prodml.model_history("m", client=client).aliases == {}

    prodml.register_suite("m", {**suite, "gate": fair}, client=client)
    promotion = prodml.promote("m", good.version, client=client)  # both

    assert promotion.move.verdict == "pass" and _champion(client) == 1


def test_a_rollout_waits_at_its_last_step_until_sign_off_then_completes(
    client: Client, three_versions: list[ModelVersion], as_: Callable[..., Client]
) -> None:
    prodml.require_approval("m", "alice", client=client)
    rollout = rollouts.start(client, "m", "3", FULL)
    passed = controller.Judgement(rollout, PASS, (), {})

    waiting = controller.act(client, passed)
    assert waiting.action == "waiting" and "alice has not approved it" in waiting.reason
    with pytest.raises(GateRefusedError, match="m@3 needs sign-off"):
        prodml.rollout_action("promote", "m", why="looks fine", client=client)
    assert rollouts.get(client, rollout.id).state == "running" and _champion(client) == 2

    prodml.approve("m", 3, client=as_(user="alice"))
    done = controller.act(client, passed)

    assert done.action == "completed" and _champion(client) == 3


def test_approvals_as_of_a_past_time_show_who_had_approved_then(
    client: Client, three_versions: list[ModelVersion], as_: Callable[..., Client]
) -> None:
    prodml.require_approval("m", "alice,bob", client=client)
    prodml.approve("m", 3, client=as_(user="alice"))
    between = datetime.now(UTC)
    time.sleep(0.01)
    prodml.approve("m", 3, client=as_(user="bob"))

    assert prodml.approvals("m", 3, as_of=between, client=client).missing == ("bob",)
    assert prodml.approvals("m", "3", client=client).missing == ()
    assert prodml.approvals("m", client=client).required == ("alice", "bob")


def test_with_auth_on_sign_off_needs_a_deployer_and_the_approver_is_the_token(
    client: Client, three_versions: list[ModelVersion], as_: Callable[..., Client]
) -> None:
    change = prodml.enable_auth("admin", client=client)
    assert change.token is not None
    admin = as_(token=change.token)
    bob_token = prodml.create_token("bob", "deployer", client=admin)
    reader = prodml.create_token("carol", "predictor", client=admin)

    with pytest.raises(AccessDeniedError, match="requiring sign-off needs a token"):
        prodml.require_approval("m", "bob", client=client)
    prodml.require_approval("m", "bob", client=admin)
    with pytest.raises(AccessDeniedError, match="approving a version needs a token"):
        prodml.approve("m", 3, client=as_(token=reader, user="bob"))

    approval = prodml.approve("m", 3, client=as_(token=bob_token, user="tester"))

    assert approval.approver == "bob"
    assert prodml.approvals("m", 3, client=client).complete


def test_a_model_with_a_long_name_takes_sign_off_on_every_store(
    client: Client, as_: Callable[..., Client]
) -> None:
    name = "fraud-" + "x" * 150
    frame = pd.DataFrame({"a": [0.1, -0.2, 0.3, -0.4], "b": [1.0, 2.0, 3.0, 4.0]})
    with prodml.start_run("fit", client=client) as run:
        run.log_model(LogisticRegression().fit(frame, [1, 0, 1, 0]), name, frame)

    assert prodml.require_approval(name, "alice", client=client).required == ("alice",)
    with pytest.raises(GateRefusedError, match="alice has not approved"):
        prodml.promote(name, 1, force=True, why="first", client=client)
    prodml.approve(name, 1, client=as_(user="alice"))
    prodml.promote(name, 1, force=True, why="first", client=client)

    assert prodml.get_model(f"{name}@champion", client=client).version == 1
