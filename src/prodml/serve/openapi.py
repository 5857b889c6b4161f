"""The gateway's OpenAPI document, with each served model's input fields as its
request schema, so clients and fuzzers know exactly what a model accepts."""

from __future__ import annotations

from typing import Any

from prodml.serve.inputs import family
from prodml.serve.routing import Route

_KINDS = {"number": {"type": "number"}, "text": {"type": "string"}, "time": {"type": "string"}}
_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "kind": {"type": "string"}},
}


def _record(route: Route) -> dict[str, Any]:
    signature = route.champion.version.signature or {}
    columns = signature.get("columns") or []
    if not columns:
        return {"type": "object"}
    return {
        "type": "object",
        "properties": {
            c["name"]: {**_KINDS.get(family(c["type"]), {}), "nullable": c.get("nullable", True)}
            for c in columns
        },
        "required": [c["name"] for c in columns],
    }


def _responses(ok: dict[str, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ERROR}}}
    return {
        "200": {"description": "Answered", "content": {"application/json": {"schema": ok}}},
        **{code: {"description": why, **error} for code, why in _FAILURES.items()},
    }


_FAILURES = {
    "400": "Not JSON",
    "403": "Token refused",
    "404": "Model not served",
    "413": "Too large",
    "422": "A field is missing or of the wrong kind",
    "503": "No model or fallback could answer",
}


def document(routes: dict[str, Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for name, route in routes.items():
        record = _record(route)
        body = {
            "oneOf": [
                record,
                {"type": "array", "items": record, "minItems": 1},
                {
                    "type": "object",
                    "properties": {"records": {"type": "array", "items": record, "minItems": 1}},
                    "required": ["records"],
                },
            ]
        }
        answer = {
            "type": "object",
            "properties": {
                "predictions": {"type": "array"},
                "model": {"type": "string"},
                "version": {"type": "integer", "nullable": True},
                "variant": {"type": "string"},
                "fallback": {"type": "string", "nullable": True},
                "request_id": {"type": "string"},
            },
        }
        paths[f"/v1/models/{name}/predict"] = {
            "post": {
                "operationId": f"predict_{name}",
                "summary": f"Predict with {name} (the champion, or a rollout's variant)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": _responses(answer),
            }
        }
    paths["/v2/health/ready"] = {
        "get": {"operationId": "ready", "responses": _responses({"type": "object"})}
    }
    paths["/healthz"] = {
        "get": {"operationId": "health", "responses": _responses({"type": "object"})}
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "prodml gateway", "version": "0.1.0"},
        "paths": paths,
    }
