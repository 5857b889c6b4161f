"""The rollout controller: each tick judges every running rollout's current step on
the prediction log and acts. Any failed check rolls back; all checks passing
advances to the next step (or makes the candidate champion after the last, once its
sign-off is complete); an inconclusive step waits, and is rolled back once past its
``max_duration``.
Every action is an event carrying its reason and the figures behind it."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from prodml.client import Client
from prodml.deploy import approvals, criteria, evidence, rollouts
from prodml.deploy.criteria import FAIL, INCONCLUSIVE, PASS, Check
from prodml.deploy.leases import Leadership
from prodml.domain.hosts import Fence
from prodml.domain.registry import CHAMPION
from prodml.domain.rollout import ABORTED, RUNNING, SHADOW, Rollout, Step
from prodml.errors import RunStateError


@dataclass(frozen=True)
class Judgement:
    rollout: Rollout
    verdict: str
    checks: tuple[Check, ...]
    figures: dict[str, Any]

    def reasons(self, verdict: str) -> str:
        return "; ".join(c.reason for c in self.checks if c.verdict == verdict)

    def details(self) -> dict[str, Any]:
        return {**self.figures, "checks": [c.as_dict() for c in self.checks]}


@dataclass(frozen=True)
class Decision:
    rollout: Rollout  # after the action
    action: str  # advanced, completed, rolled_back, waiting
    reason: str
    judgement: Judgement


def judge(client: Client, rollout: Rollout, now: float | None = None) -> Judgement:
    step = rollout.current
    found = evidence.gather(client.log_files, rollout)
    elapsed = (now or time.time()) - rollout.step_started_at.timestamp()
    checks = [*_minimums(step, elapsed, found.requests), *_checks(step, found)]
    figures = {**found.figures(), "elapsed_s": round(elapsed, 1)}
    return Judgement(rollout, criteria.combine(checks), tuple(checks), figures)


def _minimums(step: Step, elapsed: float, requests: int) -> list[Check]:
    waited = elapsed >= step.min_duration
    enough = requests >= step.min_requests
    return [
        Check(
            "min_duration", PASS if waited else INCONCLUSIVE, elapsed, None, None,
            step.min_duration, requests,
            f"{elapsed:.0f} s in step of at least {step.min_duration:.0f} s",
        ),
        Check(
            "min_requests", PASS if enough else INCONCLUSIVE, float(requests), None, None,
            float(step.min_requests), requests,
            f"{requests:,} requests of at least {step.min_requests:,}",
        ),
    ]  # fmt: skip


def _checks(step: Step, found: evidence.Evidence) -> list[Check]:
    """Every check of the step as a confidence sequence: the controller looks again on
    every tick, so each interval must hold over all looks of the step, not just this one."""
    rules = step.criteria
    level, planned = rules.confidence, step.min_requests
    answered = max(1, round(planned * step.share))  # latencies come from answered requests
    fewer = max(1, round(planned * min(step.share, 1 - step.share)))  # the ratio's smaller side
    checks: list[Check] = []
    if rules.max_error_rate is not None:
        checks.append(
            criteria.error_rate(
                found.candidate_errors, found.candidate_calls, rules.max_error_rate, level,
                planned,
            )
        )  # fmt: skip
    if step.stage != SHADOW and rules.max_p99_ms is not None:
        checks.append(criteria.p99_ms(found.candidate_ms, rules.max_p99_ms, level, answered))
    if step.stage != SHADOW and rules.max_p99_ratio is not None:
        checks.append(
            criteria.p99_ratio(
                found.candidate_ms, found.baseline_ms, rules.max_p99_ratio, level,
                planned=fewer,
            )
        )  # fmt: skip
    if rules.min_agreement is not None:
        checks.append(criteria.agreement(found.agreeing, rules.min_agreement, level, planned))
    if rules.max_distance is not None:
        checks.append(
            criteria.distance(
                found.candidate, found.baseline, rules.max_distance, level, planned=planned
            )
        )
    if rules.metric is not None and rules.max_metric_drop is not None:
        labelled = found.labelled
        checks.append(
            criteria.metric_difference(
                found.labels[labelled], found.candidate[labelled], found.baseline[labelled],
                rules.metric, rules.max_metric_drop, level, rules.min_labels,
                planned=rules.min_labels,
            )
        )  # fmt: skip
    return checks


def tick(client: Client, now: float | None = None, fence: Fence | None = None) -> list[Decision]:
    """Judge every running rollout once and act on each verdict (with ``fence``, only
    while that lease is still this controller's)."""
    decisions = []
    for rollout in client.metadata.rollouts(active=True):
        if rollout.state != RUNNING:
            continue
        try:
            champion = client.metadata.alias_version(rollout.model, CHAMPION)
            if champion != rollout.baseline:
                decisions.append(_abandon(client, rollout, champion, fence))
                continue
            decisions.append(act(client, judge(client, rollout, now), now, fence))
        except RunStateError:
            continue  # another controller or a person acted on it first
    return decisions


def _abandon(
    client: Client, rollout: Rollout, champion: int | None, fence: Fence | None = None
) -> Decision:
    """The champion moved by other means mid-rollout: the comparison no longer holds."""
    now = f"v{champion}" if champion is not None else "no version"
    reason = (
        f"champion moved from v{rollout.baseline} to {now} outside the rollout; "
        "start a new rollout against the new champion"
    )
    ended = rollouts.change(client, rollout, "rollout.aborted", reason, state=ABORTED, fence=fence)
    judgement = Judgement(rollout, INCONCLUSIVE, (), {})
    return Decision(ended, "aborted", reason, judgement)


def act(
    client: Client, judgement: Judgement, now: float | None = None, fence: Fence | None = None
) -> Decision:
    rollout = judgement.rollout
    step = rollout.current
    details = judgement.details()
    if judgement.verdict == FAIL:
        reason = f"{step.label} failed: {judgement.reasons(FAIL)}"
        return Decision(
            rollouts.roll_back(client, rollout, reason, details, fence),
            "rolled_back",
            reason,
            judgement,
        )
    if judgement.verdict == PASS:
        if rollout.step + 1 >= len(rollout.plan.steps):
            signed = approvals.sign_off(client, rollout.model, rollout.candidate)
            if not signed.complete:  # held at the last step until the approvers sign off
                return Decision(rollout, "waiting", approvals.refusal(signed), judgement)
            reason = f"every step passed; {step.label}: {judgement.reasons(PASS)}"
            done = rollouts.complete(client, rollout, reason, details, fence=fence)
            return Decision(done, "completed", reason, judgement)
        following = rollout.plan.steps[rollout.step + 1]
        reason = f"{step.label} passed, on to {following.label}: {judgement.reasons(PASS)}"
        moved = rollouts.change(
            client,
            rollout,
            "rollout.advanced",
            reason,
            details,
            step=rollout.step + 1,
            fence=fence,
        )
        return Decision(moved, "advanced", reason, judgement)
    elapsed = (now or time.time()) - rollout.step_started_at.timestamp()
    if step.max_duration is not None and elapsed > step.max_duration:
        reason = (
            f"{step.label} reached no verdict within {step.max_duration:.0f} s: "
            f"{judgement.reasons(INCONCLUSIVE)}"
        )
        return Decision(
            rollouts.roll_back(client, rollout, reason, details, fence),
            "rolled_back",
            reason,
            judgement,
        )
    return Decision(rollout, "waiting", judgement.reasons(INCONCLUSIVE), judgement)


def watch(
    client: Client,
    interval: float,
    stop: Any = None,
    report: Any = None,
    leadership: Leadership | None = None,
) -> None:
    """Tick every ``interval`` seconds until ``stop`` (a threading.Event) is set; with
    ``leadership``, only while this process holds the controller's lease (a standby
    wakes the moment it takes it)."""
    while stop is None or not stop.is_set():
        started = time.monotonic()
        fence = None if leadership is None else leadership.fence
        if leadership is None or fence is not None:
            try:
                for decision in tick(client, fence=fence):
                    if report is not None:
                        report(decision)
            except Exception as error:  # a bad tick must not stop the controller
                print(
                    f"prodml: rollout controller tick failed: {error}", file=sys.stderr, flush=True
                )
        pause = max(0.0, interval - (time.monotonic() - started))
        if leadership is not None and fence is None:
            if leadership.wait(pause):
                return
        elif stop is None:
            time.sleep(pause)
        elif stop.wait(pause):
            return
