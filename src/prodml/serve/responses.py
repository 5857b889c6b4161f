"""Responses of the gateway: JSON with orjson, and each error class mapped to one
status code in one place."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from prodml.errors import (
    AccessDeniedError,
    GateRefusedError,
    InvalidInputError,
    NotFoundError,
    ProdmlError,
    RunStateError,
    StoreError,
    echoed,
)  # fmt: skip
from prodml.serve.gateway import UnansweredError
from prodml.serve.inputs import Rejected

STATUS: tuple[tuple[type[ProdmlError], int], ...] = (
    (NotFoundError, 404),
    (AccessDeniedError, 403),
    (InvalidInputError, 422),
    (GateRefusedError, 409),
    (RunStateError, 409),
    (UnansweredError, 503),
    (StoreError, 503),
)


def json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
        status,
        headers,
        "application/json",
    )


def status_of(error: ProdmlError) -> int:
    if isinstance(error, Rejected):
        return error.status
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 400


async def refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProdmlError)
    payload: dict[str, Any] = {"error": str(error), "kind": type(error).__name__}
    if isinstance(error, Rejected):
        payload["field"] = error.field
    return json(payload, status_of(error))


async def crashed(request: Request, error: Exception) -> Response:
    return json({"error": f"Internal error: {type(error).__name__}", "kind": "InternalError"}, 500)


async def unrouted(request: Request, error: Exception) -> Response:
    """A path no route takes (404) or a method the path does not take (405), in the
    same JSON shape as every other refusal (the ``Allow`` header kept)."""
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        allowed = next((v for k, v in headers.items() if k.lower() == "allow"), "")
        message, kind = (
            f"{request.method[:10]} is not taken here; use {allowed}.",
            "MethodNotAllowed",
        )
    elif error.status_code == 404:
        path = echoed(request.url.path)
        message, kind = f"No route {path}; the routes are listed at /openapi.json.", "NotFound"
    else:
        message, kind = str(error.detail), "HTTPError"
    return json({"error": message, "kind": kind}, error.status_code, headers)
