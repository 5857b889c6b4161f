"""Access tokens: with the store's auth ``admin`` every deploy action needs a deployer
token and a refusal is an event; the store keeps only a token's SHA-256 digest."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import prodml
from prodml.client import Client
from prodml.deploy import tokens
from prodml.domain.artifact import ModelVersion
from prodml.errors import AccessDeniedError, InvalidInputError, NotFoundError


@pytest.fixture
def store(client: Client, three_versions: list[ModelVersion]) -> Client:
    """Model ``m`` with v1 then v2 champion and v3 unused."""
    return client


@pytest.fixture
def as_(store: Client) -> Iterator[Callable[..., Client]]:
    """Clients on the same store with other settings, e.g. ``as_(token=...)``."""
    made: list[Client] = []

    def client(**changes: str) -> Client:
        made.append(Client(**{**dataclasses.asdict(store.settings), **changes}))
        return made[-1]

    yield client
    for one in made:
        one.close()


DEPLOY_ACTIONS: dict[str, Callable[[Client], object]] = {
    "promote": lambda c: prodml.promote("m", 3, why="test", force=True, client=c),
    "rollback": lambda c: prodml.rollback("m", "test", client=c),
    "rollout": lambda c: prodml.start_rollout("m", 1, {"stages": [{"stage": "full"}]}, client=c),
}


def _refused(client: Client) -> list[dict[str, Any]]:
    tokens.REFUSALS.flush()
    return [e.details for e in client.metadata.list_events() if e.action == "auth.refused"]


@pytest.mark.parametrize("action", DEPLOY_ACTIONS)
def test_without_a_token_deploy_actions_are_refused_and_recorded(
    as_: Callable[..., Client], action: str
) -> None:
    admin = as_()
    prodml.enable_auth("admin", client=admin)

    with pytest.raises(AccessDeniedError) as refused:
        DEPLOY_ACTIONS[action](admin)

    assert refused.value.exit_code == 3
    assert str(refused.value).startswith(
        f"{action} needs a token with the deployer role (no token given)"
    )
    assert "prodml tokens create NAME --role deployer" in str(refused.value)
    (event,) = [e for e in admin.metadata.list_events() if e.action == "auth.refused"]
    assert (event.subject_kind, event.subject_id) == ("action", action)
    assert (event.details["token"], event.details["count"]) == ("no token", 1)
    assert admin.metadata.alias_version("m", "champion") == 2
    assert admin.metadata.rollouts("m") == []


def test_a_deployer_token_may_do_every_deploy_action(as_: Callable[..., Client]) -> None:
    token = prodml.create_token("ci", "deployer", client=as_())
    deployer = as_(token=token)
    prodml.enable_auth("admin", client=deployer)

    back = prodml.rollback("m", "v2 is slow", client=deployer)
    rollout = prodml.start_rollout("m", 3, {"stages": [{"stage": "full"}]}, client=deployer)
    paused = prodml.rollout_action("pause", "m", client=deployer)
    aborted = prodml.rollout_action("abort", "m", client=deployer)
    promoted = prodml.promote("m", 3, why="hotfix", force=True, client=deployer)

    assert back.version == 1  # type: ignore[union-attr]
    assert (rollout.candidate, paused.state, aborted.state) == (3, "paused", "aborted")
    assert promoted.move.version == 3
    assert not _refused(deployer)


def test_a_predictor_token_an_unknown_one_or_a_revoked_one_is_refused(
    as_: Callable[..., Client],
) -> None:
    predictor = tokens.create(as_(), "app", tokens.PREDICTOR)
    deployer = tokens.create(as_(), "old-ci", tokens.DEPLOYER)
    prodml.enable_auth("admin", client=as_(token=deployer))
    prodml.revoke_token("old-ci", client=as_(token=deployer))

    for token, who in (
        (predictor, "app"),
        ("pml_guessed", "unknown token"),
        (deployer, "unknown token"),
    ):
        with pytest.raises(AccessDeniedError, match=rf"\({who} given\)"):
            prodml.rollback("m", client=as_(token=token))
    refused = _refused(as_())
    counted: Counter[str] = Counter()
    for event in refused:
        counted[event["token"]] += event["count"]
    assert counted == {"app": 1, "unknown token": 2}
    examples = [x for e in refused for x in e.get("examples", [])]
    assert examples == [tokens.digest("pml_guessed")[:12], tokens.digest(deployer)[:12]]
    with pytest.raises(NotFoundError, match="No active token 'old-ci'"):
        as_().metadata.revoke_token("old-ci")


def test_the_store_keeps_only_the_digest_of_a_token(as_: Callable[..., Client]) -> None:
    client = as_()
    token = tokens.create(client, "ci", tokens.DEPLOYER)

    assert token.startswith("pml_") and len(token) > 40
    with client.metadata.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM tokens")).mappings().all()
        events = connection.execute(sa.text("SELECT * FROM events")).mappings().all()
    (row,) = rows
    assert row["digest"] == hashlib.sha256(token.encode()).hexdigest()
    assert (row["name"], row["role"], row["actor"]) == ("ci", "deployer", "tester")
    stored = " ".join(str(v) for r in [*rows, *events] for v in r.values())
    assert token not in stored and token[4:] not in stored
    listed = client.metadata.tokens()
    assert [(t.name, t.role, t.actor, t.active) for t in listed] == [
        ("ci", "deployer", "tester", True)
    ]
    assert not hasattr(listed[0], "digest")
    assert tokens.lookup(client, token) == tokens.Grant("ci", "deployer")


def test_tokens_are_made_with_a_known_role_and_a_fresh_name(as_: Callable[..., Client]) -> None:
    client = as_()
    tokens.create(client, "ci", tokens.DEPLOYER)

    with pytest.raises(
        InvalidInputError, match="Role 'admin' is not known; use one of: deployer, predictor"
    ):
        tokens.create(client, "ops", "admin")
    with pytest.raises(InvalidInputError, match="A token named 'ci' exists"):
        tokens.create(client, "ci", tokens.PREDICTOR)
    with pytest.raises(InvalidInputError):
        tokens.create(client, "bad name!", tokens.PREDICTOR)


def test_what_each_auth_mode_guards(as_: Callable[..., Client]) -> None:
    client = as_()
    predictor = tokens.create(client, "app", tokens.PREDICTOR)
    actions = ("predict", "rollback", "promote", "alias", "guardrails", "token", "auth")

    assert [tokens.needed(client, a) for a in actions] == [None] * len(actions)
    assert tokens.check(client, None, "rollback") is None
    deployer = prodml.enable_auth("admin", client=client).token
    assert tokens.needed(client, "predict") is None
    assert {tokens.needed(client, a) for a in actions[1:]} == {tokens.DEPLOYER}
    prodml.enable_auth("all", client=as_(token=deployer))
    assert tokens.needed(client, "predict") == tokens.PREDICTOR
    assert tokens.check(client, predictor, "predict") == tokens.Grant("app", "predictor")
    with pytest.raises(AccessDeniedError, match="predict needs a token with the predictor"):
        tokens.check(client, None, "predict")
    prodml.disable_auth(client=as_(token=deployer))
    assert prodml.rollback("m", client=client).version == 1  # type: ignore[union-attr]


def test_the_auth_setting_raises_the_stores_mode_for_one_process_but_never_lowers_it(
    as_: Callable[..., Client],
) -> None:
    deployer = prodml.enable_auth("admin", client=as_()).token

    assert tokens.needed(as_(auth="off"), "rollback") == tokens.DEPLOYER
    assert tokens.needed(as_(auth="off"), "predict") is None
    assert tokens.needed(as_(auth="all"), "predict") == tokens.PREDICTOR
    prodml.disable_auth(client=as_(token=deployer))
    assert tokens.needed(as_(auth="admin"), "rollback") == tokens.DEPLOYER
    assert tokens.needed(as_(), "rollback") is None
