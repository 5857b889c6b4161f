"""The leakage check a training step declares (``leakage:`` in the pipeline file), run on
the step's inputs before the step: hard findings stop the pipeline unless accepted with
a reason, which is recorded on the step's run; soft findings become warnings."""

from __future__ import annotations

from typing import Any

from prodml.client import Client
from prodml.data.leakage_gate import guard, hard_findings
from prodml.domain.leakage import LeakageDeclarations, LeakageResult
from prodml.domain.validation import FindingKind
from prodml.errors import InvalidInputError
from prodml.pipelines.plan import Step


def check(
    client: Client, step: Step, values: dict[str, Any], run_id: str, accept: str | None
) -> tuple[str, ...]:
    """Warnings of the soft findings; raises on hard ones not accepted."""
    declared = step.leakage
    if declared is None:
        return ()
    for role, argument in (("train", declared.train), ("valid", declared.valid)):
        if argument not in values:
            raise InvalidInputError(
                f"Step {step.name!r}: leakage.{role} is {argument!r}, not one of its inputs "
                f"({', '.join(values) or 'none'}). Name the input that holds the rows."
            )
    declarations = LeakageDeclarations(
        keys=tuple(declared.keys),
        time_column=declared.time_column,
        known_after_label=tuple(declared.known_after_label),
        label=declared.label,
        max_overlap=declared.max_overlap,
    )
    try:
        result = guard(
            client,
            values[declared.train],
            values[declared.valid],
            declarations,
            force=accept,
            block=False,
            run_id=run_id,
        )
    except InvalidInputError as error:  # a column the tables lack: say whose check it is
        text = str(error)
        field = text.partition(":")[0]
        inside = f"leakage.{text}" if field in type(declared).model_fields else f"leakage: {text}"
        raise InvalidInputError(f"Step {step.name!r}: {inside}") from None
    if result.refused:
        client.metadata.set_run_tags(run_id, {"prodml.leakage": "refused"})
        raise InvalidInputError(
            f"Step {step.name!r}: leakage between its inputs {declared.train!r} (training) "
            f"and {declared.valid!r} (validation): {hard_findings(result)}. Fix the split in "
            "the steps before it and run again, or train anyway with --accept-leakage 'why' "
            "(prodml run or prodml sweep; accept_leakage='why' in Python), recorded on the "
            "step's run."
        )
    client.metadata.set_run_tags(run_id, {"prodml.leakage": _verdict(result)})
    return tuple(
        f"Step {step.name!r}: leakage: {f.message}" for f in result.of_kind(FindingKind.SOFT)
    )


def _verdict(result: LeakageResult) -> str:
    if result.forced is not None:
        return "accepted"
    return "soft" if result.findings else "clean"
