"""The YAML documents prodml reads (evaluation suites, rollout plans, monitor specs,
checks and guardrails): their JSON Schemas, so that editors check the files as they
are written (``# yaml-language-server: $schema=plan.schema.json``)."""

from __future__ import annotations

from typing import Any


def document_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a document kind: ``suite``, ``plan``,
    ``monitor``, ``checks`` or ``guardrails``."""
    from prodml import documents

    return documents.json_schema(kind)
