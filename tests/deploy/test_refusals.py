"""What a flood of bad tokens costs: refusals are counted (one ``auth.refused`` event
per source and action per minute, with the count), grants are cached in a bounded
cache whose entries expire, and tokens are compared in constant time."""

from __future__ import annotations

import hmac
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import prodml
from prodml.client import Client
from prodml.deploy import auth_mode, tokens
from prodml.deploy.expiring import Expiring
from prodml.domain.lineage import Event
from prodml.errors import AccessDeniedError, StoreError


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def guarded(client: Client) -> Iterator[Client]:
    """A store with auth ``admin``; refusals held by earlier tests are written first."""
    tokens.REFUSALS.flush()
    prodml.enable_auth("admin", client=client)
    yield client
    tokens.REFUSALS.flush()


def _refused(client: Client) -> list[Event]:
    return [e for e in client.metadata.list_events() if e.action == "auth.refused"]


def _totals(events: list[Event]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for event in events:
        totals[str(event.details["token"])] += int(event.details["count"])
    return totals


def _refuse(client: Client, token: str | None, action: str = "rollback") -> None:
    with pytest.raises(AccessDeniedError):
        tokens.check(client, token, action)


def test_500_random_tokens_make_a_few_events_whose_counts_add_up_to_500(
    guarded: Client,
) -> None:
    for _ in range(500):
        _refuse(guarded, tokens.PREFIX + secrets.token_urlsafe(32))
    written_at_once = _refused(guarded)
    tokens.REFUSALS.flush()
    events = _refused(guarded)

    assert len(written_at_once) == 1 and len(events) <= 3
    assert _totals(events) == {"unknown token": 500}
    assert {(e.subject_kind, e.subject_id) for e in events} == {("action", "rollback")}
    assert len(events[-1].details["examples"]) == 3  # a few digest prefixes, not 499


def test_a_minute_of_refusals_is_written_once_the_minute_is_over(
    guarded: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(6000.0)  # the start of a minute
    monkeypatch.setattr(tokens.REFUSALS, "clock", clock)
    for _ in range(3):
        _refuse(guarded, None)
    _refuse(guarded, None, "promote")
    first = _refused(guarded)
    clock.now = 6061.0
    assert tokens.check(guarded, None, "predict") is None  # any check writes what is due
    second = _refused(guarded)
    clock.now = 6062.0
    _refuse(guarded, None)
    third = _refused(guarded)

    assert [(e.subject_id, e.details["count"]) for e in first] == [("rollback", 1), ("promote", 1)]
    assert [(e.subject_id, e.details["count"]) for e in second[2:]] == [("rollback", 2)]
    assert third == second  # one event per source and minute: this one is held
    tokens.REFUSALS.flush()
    assert _totals(_refused(guarded)) == {"no token": 5}


def test_the_grant_cache_stays_bounded_after_5000_forged_tokens(guarded: Client) -> None:
    for _ in range(5000):
        assert tokens.lookup(guarded, tokens.PREFIX + secrets.token_urlsafe(32)) is None

    assert len(tokens.GRANTS) <= tokens.CACHE_SIZE == 1024


def test_a_revoked_token_stops_working_once_the_cache_expires(
    guarded: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(100.0)
    monkeypatch.setattr(tokens.GRANTS, "clock", clock)
    token = tokens.create(guarded, "ci", tokens.DEPLOYER)
    assert tokens.check(guarded, token, "rollback") == tokens.Grant("ci", "deployer")

    guarded.metadata.revoke_token("ci")  # as another process would
    clock.now += tokens.CACHE_SECONDS - 0.5
    assert tokens.check(guarded, token, "rollback") is not None  # cached for a few seconds
    clock.now += 1.0

    with pytest.raises(AccessDeniedError, match="unknown token given"):
        tokens.check(guarded, token, "rollback")


def test_a_forged_token_cached_as_unknown_is_asked_again_after_expiry(
    guarded: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(100.0)
    monkeypatch.setattr(tokens.GRANTS, "clock", clock)
    asked: list[str] = []
    lookup = guarded.metadata.token

    def token(hashed: str) -> dict[str, Any] | None:
        asked.append(hashed)
        return lookup(hashed)

    monkeypatch.setattr(guarded.metadata, "token", token)

    for _ in range(3):
        assert tokens.lookup(guarded, "pml_forged") is None
    clock.now += tokens.CACHE_SECONDS
    assert tokens.lookup(guarded, "pml_forged") is None

    assert asked == [tokens.digest("pml_forged")] * 2


def test_a_presented_token_is_compared_to_the_stored_digest_in_constant_time(
    guarded: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tokens.create(guarded, "ci", tokens.DEPLOYER)
    compared: list[tuple[str, str]] = []
    compare = hmac.compare_digest

    def spied(stored: str, presented: str) -> bool:
        compared.append((stored, presented))
        return compare(stored, presented)

    monkeypatch.setattr(hmac, "compare_digest", spied)

    assert tokens.lookup(guarded, token) == tokens.Grant("ci", "deployer")
    assert compared == [(tokens.digest(token), tokens.digest(token))]


def test_the_request_path_asks_the_store_for_the_mode_at_most_once_a_second(
    guarded: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(50.0)
    monkeypatch.setattr(auth_mode._fresh, "clock", clock)
    auth_mode.forget(guarded)
    asked: list[object] = []
    events = guarded.metadata.list_events

    def listed(**query: Any) -> list[Event]:
        asked.append(query)
        return events(**query)

    monkeypatch.setattr(guarded.metadata, "list_events", listed)

    for _ in range(1000):
        assert tokens.needed(guarded, "predict") is None
    clock.now += auth_mode.CACHE_SECONDS
    assert tokens.needed(guarded, "rollback") == tokens.DEPLOYER

    assert len(asked) == 2


def test_while_the_store_is_unreachable_the_last_mode_read_holds(
    guarded: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(50.0)
    monkeypatch.setattr(auth_mode._fresh, "clock", clock)
    auth_mode.forget(guarded)
    assert tokens.needed(guarded, "rollback") == tokens.DEPLOYER

    def unreachable(**_: object) -> list[Event]:
        raise StoreError("The metadata store is unreachable.")

    monkeypatch.setattr(guarded.metadata, "list_events", unreachable)
    clock.now += 10.0

    assert tokens.needed(guarded, "rollback") == tokens.DEPLOYER


def test_the_cache_forgets_the_least_recently_used_entry_first() -> None:
    clock = Clock(0.0)
    cache: Expiring[str, int] = Expiring(2, 5.0, clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)
    cache.put("c", 3)

    assert [cache.get(k) for k in "abc"] == [(True, 1), (False, None), (True, 3)]
    clock.now = 5.0
    assert cache.get("a") == (False, None) and len(cache) == 1
