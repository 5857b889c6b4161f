"""Sign-off: named people who must approve a version before it becomes champion.

A model may require approvers (``prodml models require-approval churn --by
alice,bob``). Each approves one version (``prodml models approve churn 4``); an
approval of v3 says nothing of v4. Promotion to champion, by hand or at the end of a
rollout, is refused until every required approver has approved that version.

Sign-off is a control separate from the gate: the gate judges the evidence, the
approvers are people accountable for the release. ``--force`` overrides the gate's
verdict only, never a missing approval; a rollout whose steps all passed waits at
its last step until sign-off is complete. A rollback needs no sign-off: it returns
to a version that served before.

Both are events in the log, so they have who, when and why and can be read as of
any time: ``model.approval_required`` on the model name (its ``approvers``; an
empty list clears the requirement) and ``model.approved`` on the version. The
approver is the name of the token presented (``PRODML_TOKEN``, or the token a user
logged in to the dashboard with), else the user (``PRODML_USER``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from prodml.client import Client
from prodml.deploy import tokens
from prodml.domain.artifact import ModelVersion
from prodml.errors import GateRefusedError, InvalidInputError
from prodml.names import check_name
from prodml.predict import loading

REQUIRED = "model.approval_required"
APPROVED = "model.approved"
MAX_APPROVERS = 50
MAX_REASON = 2000
SUBJECT_CHARS = 64  # an event's subject id; a longer model name is stored as its digest


@dataclass(frozen=True, kw_only=True)
class Approval:
    model: str
    version: int
    approver: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class SignOff:
    """Who must approve ``version`` of ``model`` and who has (as of ``as_of``)."""

    model: str
    version: int | None  # None: the requirement alone
    required: tuple[str, ...]
    given: tuple[Approval, ...]
    set_by: str | None = None
    set_at: datetime | None = None
    as_of: datetime | None = None

    @property
    def missing(self) -> tuple[str, ...]:
        approved = {approval.approver for approval in self.given}
        return tuple(name for name in self.required if name not in approved)

    @property
    def complete(self) -> bool:
        return not self.missing


def approver_of(client: Client) -> str:
    """Who approves when ``client`` acts: its token's name, else its user."""
    grant = tokens.lookup(client, client.settings.token or None)
    return grant.name if grant is not None else client.settings.user


def require(client: Client, name: str, approvers: Iterable[str], why: str | None = None) -> SignOff:
    """Require each of ``approvers`` to approve a version of ``name`` before it becomes
    champion; an empty list clears the requirement."""
    client.metadata.get_model_version(name, None)
    chosen = list(dict.fromkeys(check_name(a.strip(), "approver") for a in approvers))
    if len(chosen) > MAX_APPROVERS:
        raise InvalidInputError(f"At most {MAX_APPROVERS} approvers; {len(chosen)} given.")
    _check_reason(why)
    details = {"name": name, "approvers": chosen, "by": approver_of(client)}
    client.metadata.record_event(REQUIRED, _subject(name), why, details)
    return sign_off(client, name)


def approve(client: Client, name: str, version: str, why: str | None = None) -> Approval:
    """Record that the acting person approves ``version`` (a number or an alias) of
    ``name``; approving twice keeps the first approval."""
    chosen = loading.get(client, version if "@" in version else f"{name}@{version}")
    if chosen.name != name:
        raise InvalidInputError(f"{chosen.ref} is not a version of {name!r}.")
    _check_reason(why)
    who = approver_of(client)
    current = _sign_off(client, chosen)
    if who not in current.required:
        asked = ", ".join(current.required)
        raise InvalidInputError(
            f"{who!r} is not among the approvers {name!r} requires ({asked}); their approval "
            f"would not count. Change the list: prodml models require-approval {name} --by NAMES"
            if asked
            else f"{name!r} requires no sign-off, so there is nothing to approve. Require it: "
            f"prodml models require-approval {name} --by NAMES"
        )
    earlier = [approval for approval in current.given if approval.approver == who]
    if earlier:
        return earlier[0]
    details = {"name": name, "version": chosen.version, "approver": who}
    client.metadata.record_event(APPROVED, ("model", chosen.id), why, details)
    return next(a for a in _sign_off(client, chosen).given if a.approver == who)


def sign_off(
    client: Client, name: str, version: str | int | None = None, as_of: datetime | None = None
) -> SignOff:
    """The requirement of ``name`` and, with a ``version`` (number or alias), the
    approvals it has, now or as of a past time."""
    if version is None:
        client.metadata.get_model_version(name, None)
        return _requirement(client, name, None, as_of)
    text = str(version)
    return _sign_off(client, loading.get(client, f"{name}@{text}", as_of), as_of)


def check(client: Client, version: ModelVersion) -> None:
    """Refuse to make ``version`` champion while a required approver has not approved it."""
    found = _sign_off(client, version)
    if found.complete:
        return
    raise GateRefusedError(refusal(found))


def refusal(found: SignOff) -> str:
    """Why a version without complete sign-off cannot become champion, and what to do."""
    missing = ", ".join(found.missing)
    given = ", ".join(approval.approver for approval in found.given)
    has = f" (approved by {given})" if given else ""
    verb = "has" if len(found.missing) == 1 else "have"
    return (
        f"{found.model}@{found.version} needs sign-off before it becomes champion: {missing} "
        f"{verb} not approved it{has}. Approve as {missing}: prodml models approve "
        f"{found.model} {found.version} --why TEXT, or Approve on the model's dashboard page. "
        "--force overrides the gate's verdict only, never a missing approval."
    )


def _sign_off(client: Client, version: ModelVersion, as_of: datetime | None = None) -> SignOff:
    requirement = _requirement(client, version.name, version.version, as_of)
    first: dict[str, Approval] = {}
    for event in client.metadata.list_events(("model", version.id), until=as_of):
        approver = str(event.details.get("approver", ""))
        if event.action == APPROVED and approver not in first:
            first[approver] = Approval(
                model=version.name,
                version=version.version,
                approver=approver,
                at=event.at,
                reason=event.reason,
            )
    return SignOff(
        model=requirement.model,
        version=version.version,
        required=requirement.required,
        given=tuple(first.values()),
        set_by=requirement.set_by,
        set_at=requirement.set_at,
        as_of=as_of,
    )


def _requirement(client: Client, name: str, version: int | None, as_of: datetime | None) -> SignOff:
    events = client.metadata.list_events(_subject(name), until=as_of)
    latest = next((e for e in reversed(events) if e.action == REQUIRED), None)
    required = tuple(str(a) for a in latest.details.get("approvers", [])) if latest else ()
    return SignOff(
        model=name,
        version=version,
        required=required,
        given=(),
        set_by=str(latest.details.get("by", latest.actor)) if latest else None,
        set_at=latest.at if latest else None,
        as_of=as_of,
    )


def _subject(name: str) -> tuple[str, str]:
    """The event subject of a model name: the name, or a digest of a name too long to
    be a subject id (the event's details carry the name itself)."""
    if len(name) <= SUBJECT_CHARS:
        return ("model_name", name)
    return ("model_name", "blake2b:" + hashlib.blake2b(name.encode(), digest_size=24).hexdigest())


def _check_reason(why: str | None) -> None:
    if why is not None and (not isinstance(why, str) or len(why) > MAX_REASON):
        raise InvalidInputError(f"The reason must be text of at most {MAX_REASON} characters.")
