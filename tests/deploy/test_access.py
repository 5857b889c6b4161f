"""Access control that holds: the auth mode belongs to the store, not to whoever calls;
every change to what serves needs a deployer token while auth is on; champion is
always protected; turning auth on hands its enabler a deployer token."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import prodml
from prodml.client import Client
from prodml.deploy import auth_mode, rollouts, tokens
from prodml.domain.artifact import ModelVersion
from prodml.errors import AccessDeniedError, InvalidInputError

FULL = {"stages": [{"stage": "full"}]}
RULES = {"rules": [{"name": "unsure", "confidence_below": 0.6, "abstain": True}]}


@pytest.fixture
def store(client: Client, three_versions: list[ModelVersion]) -> Client:
    """Model ``m``: v2 champion after v1, v3 challenger, v1 the fallback."""
    client.metadata.move_alias("m", "challenger", 3, three_versions[2].id, "setup")
    client.metadata.move_alias("m", "fallback", 1, three_versions[0].id, "setup")
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


def _state(client: Client) -> tuple[Any, ...]:
    """Everything these actions could change about what serves and who may change it."""
    store = client.metadata
    return (
        store.aliases("m"),
        store.protected("m"),
        [(r.state, r.step) for r in store.rollouts("m")],
        store.guardrails_artifact(store.get_model_version("m", "2").id),
        [(t.name, t.active) for t in store.tokens()],
        auth_mode.stored(client),
    )


def _incident(client: Client) -> str:
    return prodml.open_incident(name="m", title="slow", client=client).id


Setup = Callable[[Client], Any]
Act = Callable[[Client, Any], Any]


def _rollout(action: str) -> tuple[Setup, Act]:
    """Act on a running rollout (paused first, to resume it)."""

    def setup(client: Client) -> None:
        rollouts.start(client, "m", "3", FULL)
        if action == "resume":
            rollouts.pause(client, "m")

    def act(client: Client, _: Any) -> Any:
        return prodml.rollout_action(action, "m", "test", client=client)

    return setup, act


ACTIONS: dict[str, tuple[Setup, Act]] = {
    "move an alias": (lambda c: None, lambda c, _: prodml.set_alias("m@1", "challenger", client=c)),
    "remove an alias": (
        lambda c: None,
        lambda c, _: prodml.remove_alias("m", "challenger", client=c),
    ),
    "protect an alias": (
        lambda c: None,
        lambda c, _: prodml.protect_alias("m", "challenger", client=c),
    ),
    "unprotect an alias": (
        lambda c: c.metadata.set_protected("m", "stable", True),
        lambda c, _: prodml.protect_alias("m", "stable", False, client=c),
    ),
    "attach guardrails": (
        lambda c: None,
        lambda c, _: prodml.attach_guardrails("m@2", RULES, client=c),
    ),
    "promote with --force": (
        lambda c: None,
        lambda c, _: prodml.promote("m", 3, why="hotfix", force=True, client=c),
    ),
    "roll back": (lambda c: None, lambda c, _: prodml.rollback("m", client=c)),
    "start a rollout": (lambda c: None, lambda c, _: prodml.start_rollout("m", 3, FULL, client=c)),
    **{
        f"{action} a rollout": _rollout(action)
        for action in ("pause", "resume", "abort", "promote")
    },
    "create a token": (
        lambda c: None,
        lambda c, _: prodml.create_token("app", "predictor", client=c),
    ),
    "revoke a token": (
        lambda c: tokens.create(c, "app", tokens.PREDICTOR),
        lambda c, _: prodml.revoke_token("app", client=c),
    ),
    "roll back in an incident": (
        _incident,
        lambda c, found: prodml.respond_to_incident(found, "rollback", client=c),
    ),
    "fall back in an incident": (
        _incident,
        lambda c, found: prodml.respond_to_incident(found, "fallback", client=c),
    ),
    "guard predictions too": (lambda c: None, lambda c, _: prodml.enable_auth("all", client=c)),
    "turn auth off": (lambda c: None, lambda c, _: prodml.disable_auth(client=c)),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_every_change_to_what_serves_needs_a_deployer_token_while_auth_is_on(
    as_: Callable[..., Client], action: str
) -> None:
    setup, act = ACTIONS[action]
    deployer = prodml.enable_auth("admin", client=as_()).token
    predictor = tokens.create(as_(), "reader", tokens.PREDICTOR)
    made = setup(as_())
    before = _state(as_())

    for token in ("", "pml_forged", predictor):
        with pytest.raises(AccessDeniedError, match="needs a token with the deployer role"):
            act(as_(token=token), made)
        assert _state(as_()) == before
    act(as_(token=deployer), made)

    assert _state(as_()) != before


def test_prodml_auth_off_in_the_environment_does_not_open_a_store_with_auth_on(
    as_: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    prodml.enable_auth("admin", client=as_())
    monkeypatch.setenv("PRODML_AUTH", "off")
    settings = {k: v for k, v in dataclasses.asdict(as_().settings).items() if k != "auth"}
    caller = Client(**settings)

    assert caller.settings.auth == "off"
    with pytest.raises(AccessDeniedError, match="rollback needs a token with the deployer role"):
        prodml.rollback("m", client=caller)
    with pytest.raises(AccessDeniedError):
        prodml.disable_auth(client=caller)
    caller.close()
    assert as_().metadata.alias_version("m", "champion") == 2


def test_champion_is_always_protected_and_cannot_move_by_alias(as_: Callable[..., Client]) -> None:
    client = as_()

    with pytest.raises(InvalidInputError, match=r"m@champion is always protected"):
        prodml.protect_alias("m", "champion", False, client=client)
    client.metadata.set_protected("m", "champion", False)  # as an older prodml allowed
    with pytest.raises(InvalidInputError, match="'champion' of 'm' is protected"):
        prodml.set_alias("m@3", "champion", client=client)
    assert client.metadata.alias_version("m", "champion") == 2


def test_enabling_auth_hands_the_enabler_a_deployer_token_so_nobody_is_locked_out(
    as_: Callable[..., Client],
) -> None:
    change = prodml.enable_auth("admin", why="shared store", client=as_())

    assert (change.was, change.status.mode, change.token_name) == ("off", "admin", "deployer")
    assert change.token is not None and change.status.deployers == 1
    holder = as_(token=change.token)
    assert prodml.rollback("m", client=holder).version == 1  # type: ignore[union-attr]
    (event,) = [e for e in holder.metadata.list_events() if e.action == "auth.mode"]
    assert (event.details, event.reason, event.actor) == (
        {"mode": "admin", "was": "off"}, "shared store", "tester"
    )  # fmt: skip
    again = prodml.enable_auth("admin", client=as_())
    assert (again.was, again.token) == ("admin", None)


def test_an_enabler_who_presents_a_deployer_token_gets_no_new_one(
    as_: Callable[..., Client],
) -> None:
    ci = tokens.create(as_(), "ci", tokens.DEPLOYER)
    tokens.create(as_(), "deployer", tokens.PREDICTOR)  # the first name is taken

    change = prodml.enable_auth("all", client=as_(token=ci))
    fresh = prodml.enable_auth("all", client=as_()).token  # already all: nothing changes

    assert (change.token, fresh, change.status.presented) == (
        None,
        None,
        tokens.Grant("ci", "deployer"),
    )
    prodml.disable_auth(client=as_(token=ci))
    assert prodml.enable_auth("admin", client=as_()).token_name == "deployer-2"


def test_changing_the_mode_is_judged_by_the_store_not_a_cached_read(
    as_: Callable[..., Client],
) -> None:
    reader = as_()
    assert tokens.needed(reader, "rollback") is None  # "off" cached in this process
    deployer = prodml.enable_auth("admin", client=as_()).token

    with pytest.raises(AccessDeniedError):
        prodml.disable_auth(client=reader)
    assert prodml.disable_auth(client=as_(token=deployer)).status.mode == "off"


def test_an_unknown_mode_is_refused_naming_the_modes(as_: Callable[..., Client]) -> None:
    with pytest.raises(InvalidInputError, match=r"use admin .* or all"):
        prodml.enable_auth("off", client=as_())
    assert auth_mode.stored(as_()) == "off"
