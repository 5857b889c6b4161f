"""Rollouts: start, act on, watch and compare a staged rollout; roll back.

Deploy actions need a token with the deployer role while the store's auth is on
(``prodml auth enable``); the token is read from ``PRODML_TOKEN`` (or ``prodml.toml``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.domain.lineage import Event
from prodml.domain.registry import AliasMove
from prodml.domain.rollout import Rollout

if TYPE_CHECKING:  # the controller loads scipy: only when a rollout is judged
    from prodml.deploy.controller import Decision as Decision
    from prodml.deploy.controller import Judgement as Judgement
    from prodml.deploy.pairing import SliceComparison as SliceComparison


def start_rollout(
    name: str, version: str | int, plan: Any = None, why: str | None = None,
    force: bool = False, client: Client | None = None,
) -> Rollout:  # fmt: skip
    """Take a version through a rollout plan (a YAML file, text or mapping; None: the
    default shadow, canary 5/25/50%, full) against the current champion. With a suite,
    the version must have passed the gate against the champion offline, unless
    ``force`` with a reason in ``why``."""
    from prodml.deploy import rollouts

    client = _authorised(client or default_client(), "rollout")
    return rollouts.start(client, name, str(version), plan, why, force)


def rollout_action(
    action: str, name: str, why: str | None = None, client: Client | None = None
) -> Rollout:
    """``pause``, ``resume``, ``abort`` or ``promote`` the rollout of ``name`` by hand."""
    from prodml.deploy import rollouts

    client = _authorised(client or default_client(), "rollout")
    return rollouts.act(client, action, name, why)


def rollout_status(
    name: str | None = None, client: Client | None = None
) -> list[tuple[Rollout, Judgement | None]]:
    """Rollouts (newest first), each active one with the live verdict of its step and
    each finished one with who ended it and why (``ended_by``, ``end_reason``)."""
    from prodml.deploy import rollouts

    client = client or default_client()
    return [(rollout, _judged(client, rollout)) for rollout in rollouts.listing(client, name)]


def _judged(client: Client, rollout: Rollout) -> Judgement | None:
    """The live verdict of an active rollout's step (the controller, and scipy with it,
    loads only then)."""
    if not rollout.active:
        return None
    from prodml.deploy import controller

    return controller.judge(client, rollout)


@dataclass(frozen=True, kw_only=True)
class RolloutDetails:
    """A rollout, its current step's live verdict while active, and its decision log
    (every event of the rollout, oldest first, each with its reason and figures)."""

    rollout: Rollout
    judgement: Judgement | None
    log: list[Event]


def get_rollout(ref: str, client: Client | None = None) -> RolloutDetails:
    """A rollout by id (or prefix), or a model's active rollout, else its latest."""
    from prodml.deploy import rollouts

    chosen = client or default_client()
    rollout = rollouts.get(chosen, ref)
    log = chosen.metadata.list_events(("rollout", rollout.id))
    return RolloutDetails(rollout=rollout, judgement=_judged(chosen, rollout), log=log)


def compare_rollout(
    name: str, metric: str | None = None, client: Client | None = None
) -> tuple[Rollout, list[SliceComparison]]:
    from prodml.deploy import pairing, rollouts

    client = client or default_client()
    rollout = rollouts.get(client, name)
    return rollout, pairing.compare(client, rollout, metric)


def rollback(
    name: str, why: str | None = None, client: Client | None = None
) -> AliasMove | Rollout:
    """Roll ``name`` back: an active rollout ends; otherwise champion returns to the
    version it had before. Every gateway follows within about a second."""
    from prodml.deploy import rollouts

    client = _authorised(client or default_client(), "rollback")
    return rollouts.rollback(client, name, why)


def tick_rollouts(client: Client | None = None) -> list[Decision]:
    """Judge every running rollout once and act on each verdict: advance, complete,
    roll back or wait."""
    from prodml.deploy import controller

    return controller.tick(client or default_client())


def watch_rollouts(
    interval: float = 2.0,
    report: Callable[[Decision], None] | None = None,
    client: Client | None = None,
) -> None:
    """Tick every ``interval`` seconds until interrupted, passing each decision to
    ``report``."""
    from prodml.deploy import controller

    controller.watch(client or default_client(), interval, report=report)


def _authorised(client: Client, action: str) -> Client:
    from prodml.deploy import tokens

    return tokens.authorised(client, action)
