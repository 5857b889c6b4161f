"""Promotion: a version reaches a protected alias only through its suite's gate, or
by an override that records who forced it and why."""

from __future__ import annotations

from dataclasses import dataclass

from prodml.client import Client
from prodml.deploy import approvals, registry
from prodml.domain.evaluation import Comparison, Verdict
from prodml.domain.registry import CHAMPION, AliasMove
from prodml.errors import GateRefusedError, InvalidInputError, NotFoundError
from prodml.evaluate import evaluations
from prodml.predict import loading

SHOWN = 8  # failing checks named in a refusal


@dataclass(frozen=True)
class Promotion:
    move: AliasMove
    comparison: Comparison | None


def promote(
    client: Client, name: str, version: str, to: str = CHAMPION, why: str | None = None,
    force: bool = False,
) -> Promotion:  # fmt: skip
    """Move alias ``to`` of ``name`` to ``version`` if the gate passes; with ``force``
    (and a reason in ``why``) move it anyway and record the override. Champion also
    needs every required approver's sign-off of the version, forced or not."""
    if force and not (why and why.strip()):
        raise InvalidInputError("--force needs --why TEXT: the reason is recorded with the move.")
    candidate = loading.get(client, version if "@" in version else f"{name}@{version}")
    registry.check_alias(to)
    if candidate.name != name:
        raise InvalidInputError(f"{candidate.ref} is not a version of {name!r}.")
    if client.metadata.alias_version(name, to) == candidate.version:
        raise InvalidInputError(f"{candidate.ref} is already {to}; nothing to promote.")
    if to == CHAMPION:
        approvals.check(client, candidate)  # a separate control: --force does not skip it
    try:
        suite = evaluations.load_suite(client, name)
    except NotFoundError as error:
        if not force:
            raise GateRefusedError(
                f"Cannot promote {candidate.ref} to {to}: {error} A promotion without a gate "
                "needs --force --why TEXT."
            ) from None
        move = client.metadata.move_alias(
            name, to, candidate.version, candidate.id, why, forced=True
        )
        return Promotion(move, None)
    holder = client.metadata.alias_version(name, to)
    baseline = client.metadata.alias_version(name, suite.against)
    if baseline == candidate.version:  # e.g. the champion promoted to another alias
        baseline = None
    comparison = evaluations.compare(
        client, name, None if baseline is None else str(baseline), candidate
    )
    gate = comparison.gate
    assert gate is not None
    passed = gate.verdict is Verdict.PASS
    if not (passed or force):
        raise GateRefusedError(_refusal(candidate.ref, to, comparison))
    move = client.metadata.move_alias(
        name,
        to,
        candidate.version,
        candidate.id,
        why,
        forced=not passed,
        evaluation_id=comparison.candidate.id,
        verdict=gate.verdict.value,
        expected=holder,
    )
    return Promotion(move, comparison)


def _refusal(ref: str, to: str, comparison: Comparison) -> str:
    gate = comparison.gate
    assert gate is not None
    blocking = gate.failing() or gate.inconclusive()
    lines = [f"  - {check.verdict.value}: {check.why}" for check in blocking[:SHOWN]]
    more = len(blocking) - SHOWN
    if more > 0:
        lines.append(f"  ... and {more} more (prodml evaluate compare shows all)")
    against = f" against {gate.baseline}" if gate.baseline else ""
    return (
        f"The gate refused {ref} as {to}{against}: verdict {gate.verdict.value} "
        f"(evaluation {comparison.candidate.id[:12]}).\n"
        + "\n".join(lines)
        + "\nFix the model, or promote anyway with --force --why TEXT (recorded)."
    )
