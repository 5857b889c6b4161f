"""``prodml schema KIND``: the JSON Schema of a YAML document prodml reads."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

KINDS_HELP = "suite, plan, monitor, checks or guardrails."


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)


def schema(
    kind: Annotated[str, typer.Argument(help=f"The document: {KINDS_HELP}")],
) -> None:
    """Print the JSON Schema of a YAML document (draft 2020-12), for editors:
    prodml schema plan > plan.schema.json, then start plan.yaml with
    # yaml-language-server: $schema=plan.schema.json"""
    from prodml.sdk.documents import document_schema

    sys.stdout.write(json.dumps(document_schema(kind), indent=2) + "\n")
