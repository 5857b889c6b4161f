"""Rollouts by hand: start one, pause, resume, abort, promote at once, and roll a
model back. The controller (``controller.py``) makes the same moves on evidence."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from prodml.client import Client
from prodml.deploy import approvals
from prodml.deploy import plan as plans
from prodml.domain.artifact import ModelVersion
from prodml.domain.hosts import Fence
from prodml.domain.ids import new_id
from prodml.domain.registry import CHAMPION, AliasChange, AliasMove
from prodml.domain.rollout import (
    ABORTED,
    COMPLETED,
    FINAL_STATES,
    PAUSED,
    ROLLED_BACK,
    RUNNING,
    Plan,
    Rollout,
)  # fmt: skip
from prodml.errors import GateRefusedError, InvalidInputError, NotFoundError
from prodml.predict import loading


def ended(client: Client, rollout: Rollout) -> Rollout:
    """A finished rollout with who ended it and why, from the event that ended it."""
    if rollout.state not in FINAL_STATES:
        return rollout
    events = client.metadata.list_events(subject=("rollout", rollout.id))
    last = next((e for e in reversed(events) if e.action == f"rollout.{rollout.state}"), None)
    if last is None:
        return rollout
    return dataclasses.replace(rollout, ended_by=last.actor, end_reason=last.reason)


def start(
    client: Client,
    name: str,
    version: str,
    plan: str | Path | dict[str, Any] | None = None,
    why: str | None = None,
    force: bool = False,
) -> Rollout:
    """Take ``version`` of ``name`` through ``plan`` against the current champion. With
    a suite, the version must have passed its gate against that champion offline
    (``prodml evaluate compare``), unless ``force`` with a reason in ``why``."""
    candidate = loading.get(client, version if "@" in version else f"{name}@{version}")
    if candidate.name != name:
        raise InvalidInputError(f"{candidate.ref} is not a version of {name!r}.")
    champion = client.metadata.alias_version(name, CHAMPION)
    if champion is None:
        raise NotFoundError(
            f"Model {name!r} has no champion to roll out against. Make one first: "
            f"prodml models promote {name} VERSION"
        )
    if champion == candidate.version:
        raise InvalidInputError(f"{candidate.ref} is already the champion; nothing to roll out.")
    chosen: Plan = plans.load(plan)
    offline = _offline_gate(client, candidate, champion, force, why)
    details = {
        "candidate": candidate.version,
        "champion": champion,
        "steps": _labels(chosen),
        "offline_gate": offline,
        "forced": force,
    }
    return client.metadata.add_rollout(
        rollout_id=new_id(),
        model=name,
        candidate=candidate.version,
        baseline=champion,
        plan=chosen,
        reason=why,
        details=details,
    )


def _offline_gate(
    client: Client, candidate: ModelVersion, champion: int, force: bool, why: str | None
) -> str:
    """What the offline gate said of the candidate against the champion."""
    from prodml.evaluate import evaluations

    if force and not (why and why.strip()):
        raise InvalidInputError("--force needs --why TEXT: the reason is recorded.")
    try:
        evaluations.load_suite(client, candidate.name)
    except NotFoundError:
        return "no suite"
    holder = client.metadata.get_model_version(candidate.name, str(champion))
    found = client.metadata.gate_verdict(candidate.id, holder.id)
    verdict = found[1] if found else None
    if verdict == "pass" or force:
        return verdict or "not compared"
    said = f"its latest comparison was {verdict}" if verdict else "it was never compared"
    raise GateRefusedError(
        f"{candidate.ref} has not passed its suite's gate against champion v{champion} "
        f"({said}). Run: prodml evaluate compare {candidate.name} champion "
        f"{candidate.version}; or start with --force --why TEXT."
    )


def _labels(plan: Plan) -> list[str]:
    return [step.label for step in plan.steps]


def get(client: Client, name_or_id: str) -> Rollout:
    """The active rollout of a model name, else its latest, else a rollout by id prefix."""
    active = client.metadata.rollouts(name_or_id, active=True)
    if active:
        return active[0]
    latest = client.metadata.rollouts(name_or_id)
    if latest:
        return ended(client, latest[0])
    try:
        return ended(client, client.metadata.rollout(name_or_id))
    except NotFoundError:
        raise NotFoundError(
            f"No rollout in progress for {name_or_id!r} and no rollout with that id. "
            "List them: prodml rollout status"
        ) from None


def active(client: Client, name: str) -> Rollout | None:
    found = client.metadata.rollouts(name, active=True)
    return found[0] if found else None


def listing(client: Client, name: str | None = None) -> list[Rollout]:
    """Rollouts, newest first; each finished one says who ended it and why."""
    return [ended(client, rollout) for rollout in client.metadata.rollouts(name)]


def change(
    client: Client,
    rollout: Rollout,
    action: str,
    reason: str | None,
    details: dict[str, Any] | None = None,
    *,
    state: str | None = None,
    step: int | None = None,
    move: AliasChange | None = None,
    fence: Fence | None = None,
) -> Rollout:
    """Set the rollout's ``state`` or ``step`` (refused if it changed since it was read,
    or, with ``fence``, once that lease moved on), recorded as the event ``action``."""
    facts = {
        "model": rollout.model, "candidate": rollout.candidate, "champion": rollout.baseline,
        "step": rollout.current.label, **(details or {}),
    }  # fmt: skip
    changed = client.metadata.update_rollout(
        rollout,
        action=action,
        reason=reason,
        details=facts,
        state=state,
        step=step,
        move=move,
        fence=fence,
    )
    return ended(client, changed)


def _active(client: Client, name_or_id: str) -> Rollout:
    rollout = get(client, name_or_id)
    if not rollout.active:
        raise InvalidInputError(
            f"Rollout {rollout.id[:12]} of {rollout.model} is {rollout.state}; nothing to change."
        )
    return rollout


def pause(client: Client, name_or_id: str, why: str | None = None) -> Rollout:
    """Hold the rollout at its step: traffic stays as it is, the controller waits."""
    rollout = _active(client, name_or_id)
    if rollout.state == PAUSED:
        raise InvalidInputError(f"Rollout {rollout.id[:12]} is already paused.")
    return change(client, rollout, "rollout.paused", why, state=PAUSED)


def resume(client: Client, name_or_id: str, why: str | None = None) -> Rollout:
    rollout = _active(client, name_or_id)
    if rollout.state != PAUSED:
        raise InvalidInputError(f"Rollout {rollout.id[:12]} is not paused.")
    return change(client, rollout, "rollout.resumed", why, state=RUNNING, step=rollout.step)


def abort(client: Client, name_or_id: str, why: str | None = None) -> Rollout:
    """Stop the rollout: every request goes to the champion again."""
    rollout = _active(client, name_or_id)
    return change(client, rollout, "rollout.aborted", why, state=ABORTED)


def roll_back(
    client: Client, rollout: Rollout, reason: str, details: dict[str, Any] | None = None,
    fence: Fence | None = None,
) -> Rollout:  # fmt: skip
    return change(
        client, rollout, "rollout.rolled_back", reason, details, state=ROLLED_BACK, fence=fence
    )


def complete(
    client: Client, rollout: Rollout, reason: str, details: dict[str, Any] | None = None,
    forced: bool = False, fence: Fence | None = None,
) -> Rollout:  # fmt: skip
    """Make the candidate champion and end the rollout, in one transaction: refused if
    the rollout or the champion changed since the decision, or while the candidate's
    sign-off is not complete (``approvals.py``)."""
    version = client.metadata.get_model_version(rollout.model, str(rollout.candidate))
    approvals.check(client, version)
    move = AliasChange(
        name=rollout.model,
        alias=CHAMPION,
        version=rollout.candidate,
        model_id=version.id,
        reason=f"rollout {rollout.id[:12]}: {reason}",
        forced=forced,
        verdict="forced" if forced else "pass",
        expected=rollout.baseline,
    )
    return change(
        client, rollout, "rollout.completed", reason, details, state=COMPLETED, move=move,
        fence=fence,
    )  # fmt: skip


def promote(client: Client, name_or_id: str, why: str | None = None) -> Rollout:
    """Finish the rollout now: the candidate becomes champion, recorded as an override."""
    rollout = _active(client, name_or_id)
    if not (why and why.strip()):
        raise InvalidInputError(
            "Promoting a rollout before its plan finishes skips its checks: give --why TEXT."
        )
    return complete(client, rollout, why, forced=True)


def rollback(client: Client, name: str, why: str | None = None) -> AliasMove | Rollout:
    """Undo the last change to what serves ``name``: an active rollout is rolled back;
    otherwise ``champion`` moves back to the version it had before."""
    current = active(client, name)
    if current is not None:
        return roll_back(client, current, why or "rolled back by hand")
    moves = [m for m in client.metadata.alias_moves(name) if m.alias == CHAMPION]
    if not moves:
        raise NotFoundError(f"Model {name!r} has no champion to roll back.")
    last = moves[-1]
    if last.previous is None:
        raise InvalidInputError(
            f"{name}@champion (v{last.version}) has no earlier version to go back to."
        )
    version = client.metadata.get_model_version(name, str(last.previous))
    return client.metadata.move_alias(
        name, CHAMPION, last.previous, version.id, f"rollback: {why or 'by hand'}",
        verdict="rollback", expected=last.version,
    )  # fmt: skip


ACTIONS = {"pause": pause, "resume": resume, "abort": abort, "promote": promote}


def act(client: Client, action: str, name_or_id: str, why: str | None = None) -> Rollout:
    """``pause``, ``resume``, ``abort`` or ``promote`` a rollout by hand."""
    if action not in ACTIONS:
        raise InvalidInputError(f"No rollout action {action!r}; use one of: {', '.join(ACTIONS)}.")
    return ACTIONS[action](client, name_or_id, why)
