"""The gateway's OpenAPI document: every route; each served model's inputs as the
request schema of its predict and infer routes (value by value, per signature
column type, in ``openapi_schemas``); the bearer scheme of the admin routes; and
links from each answer to the predictions a client can make next and to the routes
that act on the model it names, so clients and fuzzers (stateful ones too) know
what the gateway accepts and how its calls chain."""

from __future__ import annotations

from typing import Any

from prodml.deploy import rollouts
from prodml.serve import oip_outputs, openapi_schemas
from prodml.serve.openapi_schemas import Schema
from prodml.serve.routing import Route

ERROR: Schema = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "kind": {"type": "string", "description": "The error class"},
        "field": {"type": "string", "description": "The input at fault, for input refusals"},
    },
    "required": ["error", "kind"],
}
FAILURES = {
    "400": "The body is not JSON",
    "403": "The token is missing or lacks the role",
    "404": "No such model, or no such rollout action",
    "409": "The change conflicts with the model's or rollout's state",
    "413": "The body or its rows are over the limit",
    "415": "The body is compressed; send it uncompressed",
    "422": "A field is missing or of the wrong kind; 'field' names it",
    "503": "No model or fallback could answer, or the store is out of reach",
}
OBJECT: Schema = {"type": "object"}
TEXT: Schema = {"type": "string"}
# a model's name, less the '/' no path segment holds
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_BY_NAME = {
    "metadata": "model_metadata",
    "ready": "model_ready",
    "kserve ready": "kserve_model_ready",
    "rollback": "rollback",
    "rollout": "rollout_action",
}
OPEN_OR_BEARER: list[dict[str, list[str]]] = [{}, {"bearer": []}]  # bearer when auth is "all"
REQUEST_ID_HEADER = {
    "name": "x-request-id",
    "in": "header",
    "required": False,
    "description": "The caller's id for the request, echoed and logged",
    "schema": openapi_schemas.REQUEST_ID,
}
PREDICTION: Schema = {
    "type": "object",
    "properties": {
        "predictions": {"type": "array", "items": {}},
        "model": {"type": "string"},
        "version": {"type": "integer", "nullable": True},
        "variant": {"type": "string"},
        "fallback": {"type": "string", "nullable": True},
        "request_id": {"type": "string"},
    },
    "required": ["predictions", "model", "version", "variant", "fallback", "request_id"],
}
VERSION = {"type": "string", "pattern": "^[0-9]{1,9}$"}
KSERVE_PREDICTION: Schema = {
    "type": "object",
    "properties": {"predictions": {"type": "array", "items": {}}},
    "required": ["predictions"],
}
INFERENCE: Schema = {
    "type": "object",
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string", "nullable": True},
        "id": {"type": "string"},
        "outputs": {"type": "array", "items": OBJECT},
    },
    "required": ["model_name", "model_version", "id", "outputs"],
}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(
    ok: Schema, failures: str, links: dict[str, Any] | None = None, echoes: bool = False
) -> dict[str, Any]:
    answered: dict[str, Any] = {"description": "Answered", "content": _json(ok)}
    if links:
        answered["links"] = links
    if echoes:
        answered["headers"] = {"x-request-id": {"schema": {"type": "string"}}}
    refused = {
        code: {"description": FAILURES[code], "content": _json(ERROR)} for code in failures.split()
    }
    return {"200": answered, **refused}


def _body(schema: Schema, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": _json(schema)}


def _path_name(model: str) -> dict[str, Any]:
    return {"name": "name", "in": "path", "required": True, "schema": NAME, "example": model}


def _links(models: list[str], name_at: str | None = None) -> dict[str, Any]:
    """From an answer to every model's predictions and, when the answer names a model
    (``name_at``, a runtime expression), to the routes that act on that model."""
    links: dict[str, Any] = {}
    for model in models:
        links[f"predict {model}"] = {"operationId": f"predict_{model}"}
        links[f"infer {model}"] = {"operationId": f"infer_{model}"}
        links[f"kserve predict {model}"] = {"operationId": f"kserve_predict_{model}"}
    for link, operation in _BY_NAME.items() if name_at else ():
        links[link] = {"operationId": operation, "parameters": {"name": name_at}}
    return links


def _to_version(name: str, version: str) -> dict[str, Any]:
    """Links from an answer naming a model and a version to that version's routes."""
    at = {"name": name, "version": version}
    return {
        "version metadata": {"operationId": "version_metadata", "parameters": at},
        "version ready": {"operationId": "version_ready", "parameters": at},
        "infer version": {"operationId": "infer_version", "parameters": at},
    }


def _predict(model: str, signature: dict[str, Any], models: list[str]) -> dict[str, Any]:
    links = _links(models, "$response.body#/model")
    links |= _to_version("$response.body#/model", "$response.body#/version")
    return {
        "operationId": f"predict_{model}",
        "summary": f"Predict with {model} (the champion, or a rollout's variant)",
        "description": "The schema is the champion's signature; a candidate's may differ.",
        "parameters": [REQUEST_ID_HEADER],
        "security": OPEN_OR_BEARER,
        "requestBody": _body(openapi_schemas.predict_body(signature)),
        "responses": _responses(PREDICTION, "400 403 404 413 422 503", links, True),
    }


def _infer(
    models: list[str], signature: dict[str, Any], outputs: tuple[str, ...], operation: str
) -> dict[str, Any]:
    links = _links(models, "$response.body#/model_name")
    links |= _to_version("$response.body#/model_name", "$response.body#/model_version")
    responses = _responses(INFERENCE, "400 403 404 413 415 422 503", links, True)
    binary = {"schema": {"type": "string", "format": "binary"}}
    responses["200"]["content"]["application/octet-stream"] = binary
    return {
        "operationId": operation,
        "parameters": [REQUEST_ID_HEADER],
        "security": OPEN_OR_BEARER,
        "requestBody": _body(openapi_schemas.infer_body(signature, outputs)),
        "responses": responses,
    }


def _infer_model(model: str, route: Route, models: list[str]) -> dict[str, Any]:
    signature = route.champion.version.signature or {}
    outputs = oip_outputs.names(route.champion)
    infer = _infer(models, signature, outputs, f"infer_{model}")
    infer["summary"] = f"Infer with {model}: the champion, or a rollout's variant (OIP v2)"
    return infer


def _infer_version(models: list[str]) -> dict[str, Any]:
    """One served version alone; its schema is that version's signature, as its
    metadata says (the body below takes any tensors)."""
    infer = _infer(models, {}, ("predict", "probabilities"), "infer_version")
    infer["summary"] = "Infer with the version in the path alone (OIP v2)"
    infer["requestBody"]["content"]["application/json"]["schema"]["properties"]["inputs"] = {
        "type": "array",
        "items": OBJECT,
        "minItems": 1,
    }
    return infer


def _kserve(model: str, signature: dict[str, Any], models: list[str]) -> dict[str, Any]:
    return {
        "operationId": f"kserve_predict_{model}",
        "summary": f"Predict with {model} (KServe v1)",
        "parameters": [REQUEST_ID_HEADER],
        "security": OPEN_OR_BEARER,
        "requestBody": _body(openapi_schemas.kserve_body(signature)),
        "responses": _responses(KSERVE_PREDICTION, "400 403 404 413 422 503", _links(models), True),
    }


def _get(
    operation: str,
    summary: str,
    ok: Schema,
    failures: str = "",
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    answers = _responses(ok, failures, links)
    return {"get": {"operationId": operation, "summary": summary, "responses": answers}}


def _by_name(models: list[str]) -> dict[str, Any]:
    """The routes that take a model's name in their path."""
    first = models[0] if models else "model"
    name = [_path_name(first)]
    version = {"name": "version", "in": "path", "required": True, "schema": VERSION}
    versioned = [*name, {**version, "example": "1"}]
    action = {"name": "action", "in": "path", "required": True}
    action["schema"] = {"type": "string", "enum": list(rollouts.ACTIONS)}
    from_path = _links(models, "$request.path.name")
    admin = {"security": BEARER, "requestBody": _body(openapi_schemas.admin_body(), required=False)}
    return {
        "/v2/models/{name}": _get(
            "model_metadata",
            "A model's inputs and outputs (OIP v2)",
            OBJECT,
            "404",
            from_path | _to_version("$request.path.name", "$response.body#/versions/0"),
        )
        | {"parameters": name},
        "/v2/models/{name}/ready": _get(
            "model_ready", "Whether a model is served", OBJECT, "404", from_path
        )
        | {"parameters": name},
        "/v2/models/{name}/versions/{version}": _get(
            "version_metadata",
            "A served version's inputs and outputs (OIP v2)",
            OBJECT,
            "404",
            from_path,
        )
        | {"parameters": versioned},
        "/v2/models/{name}/versions/{version}/ready": _get(
            "version_ready", "Whether a version is served", OBJECT, "404", from_path
        )
        | {"parameters": versioned},
        "/v2/models/{name}/versions/{version}/infer": {
            "parameters": versioned,
            "post": _infer_version(models),
        },
        "/v1/models/{name}": _get(
            "kserve_model_ready", "Whether a model is ready (KServe v1)", OBJECT, "404", from_path
        )
        | {"parameters": name},
        "/v1/models/{name}/rollback": {
            "parameters": name,
            "post": {
                "operationId": "rollback",
                "summary": "Make the previous champion the champion again",
                **admin,
                "responses": _responses(OBJECT, "400 403 404 409 413 422 503", from_path),
            },
        },
        "/v1/rollouts/{name}/{action}": {
            "parameters": [*name, action],
            "post": {
                "operationId": "rollout_action",
                "summary": "Pause, resume, abort or promote a model's rollout",
                **admin,
                "responses": _responses(OBJECT, "400 403 404 409 413 422 503", from_path),
            },
        },
    }


def _shared(models: list[str]) -> dict[str, Any]:
    """The routes about the server; each links to the predictions a client can make
    once it knows the server is up."""
    ready = {"type": "object", "properties": {"ready": {"type": "boolean"}}}
    routes = {
        "/v1/models": ("list_models", "The served models and their routing", OBJECT),
        "/": ("kserve_live", "Whether the process is up (KServe v1)", OBJECT),
        "/v2": ("server_metadata", "The server (OIP v2)", OBJECT),
        "/v2/health/live": ("live", "Whether the process is up", OBJECT),
        "/v2/health/ready": ("ready", "Whether any model is routed", ready),
        "/healthz": ("health", "Status and routing", OBJECT),
        "/openapi.json": ("openapi", "This document", OBJECT),
    }
    served = _links(models)
    paths = {path: _get(*about, "", served) for path, about in routes.items()}
    metrics = {"description": "Prometheus text", "content": {"text/plain": {"schema": TEXT}}}
    metrics["links"] = served
    paths["/metrics"] = {
        "get": {"operationId": "metrics", "summary": "Metrics", "responses": {"200": metrics}}
    }
    return {**paths, **_by_name(models)}


def document(routes: dict[str, Route]) -> dict[str, Any]:
    models = list(routes)
    paths: dict[str, Any] = {}
    for name, route in routes.items():
        signature = route.champion.version.signature or {}
        paths[f"/v1/models/{name}/predict"] = {"post": _predict(name, signature, models)}
        paths[f"/v1/models/{name}:predict"] = {"post": _kserve(name, signature, models)}
        paths[f"/v2/models/{name}/infer"] = {"post": _infer_model(name, route, models)}
    paths.update(_shared(models))
    return {
        "openapi": "3.0.3",
        "info": {"title": "prodml gateway", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A prodml token"}
            }
        },
    }
