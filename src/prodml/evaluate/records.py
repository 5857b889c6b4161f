"""Evaluations as stored JSON documents and back."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prodml.domain.evaluation import (
    Difference,
    Estimate,
    Evaluation,
    EvaluationFinding,
    GateResult,
    Score,
)
from prodml.domain.ids import parse_time


def to_document(evaluation: Evaluation) -> dict[str, Any]:
    document = asdict(evaluation)
    document["created_at"] = evaluation.created_at.isoformat()
    return document


def comparison_document(
    candidate: Evaluation, gate: GateResult, differences: list[Difference]
) -> dict[str, Any]:
    """A candidate's evaluation with the gate's checks (each verdict and why) and the
    paired differences from its baseline, so a page can show why without judging again."""
    return {
        **to_document(candidate),
        "gate": asdict(gate),
        "differences": [asdict(difference) for difference in differences],
    }


def from_document(document: dict[str, Any]) -> Evaluation:
    return Evaluation(
        id=document["id"],
        model=document["model"],
        model_id=document["model_id"],
        suite_version=document["suite_version"],
        valsets=tuple(document["valsets"]),
        slices=dict(document["slices"]),
        scores=tuple(
            Score(s["valset"], s["slice"], s["metric"], Estimate(**s["estimate"]))
            for s in document["scores"]
        ),
        findings=tuple(EvaluationFinding(**f) for f in document["findings"]),
        created_at=parse_time(document["created_at"]),
        author=document["author"],
        higher_is_better=dict(document.get("higher_is_better", {})),
        guardrails=document.get("guardrails"),
        resamples=document.get("resamples", 0),
        confidence=document.get("confidence", 0.95),
    )
