"""What every answer of the gateway keeps to, as checks for fuzzing tests: a 200, or
a refusal in JSON naming the error (its class as ``kind``) and, when an input is
refused, the field at fault; a 5xx only when no model or fallback could answer."""

from __future__ import annotations

import json
from typing import Any

import httpx

ANSWERED_OR_REFUSED = {200, 400, 404, 413, 422}


def answered_or_refused(response: httpx.Response, sent: Any = None) -> dict[str, Any]:
    """A prediction's answer: 200, or a 4xx naming the error and, for 400, 413 and
    422, the field. Returns the payload."""
    shown = f"{response.status_code} {response.text[:300]} for {str(sent)[:300]}"
    assert response.status_code in ANSWERED_OR_REFUSED, shown
    payload: dict[str, Any] = response.json()
    if response.status_code != 200:
        assert isinstance(payload.get("error"), str) and payload["error"], shown
        assert isinstance(payload.get("kind"), str), shown
    if response.status_code in (400, 413, 422):
        assert isinstance(payload.get("field"), str), shown  # "" names an empty key
    return payload


def refusal_problem(status: int, content: bytes, operation: str) -> str | None:
    """What breaks the contract in any route's answer (None when nothing does): a 5xx
    other than a 503 saying no fallback could answer, a refusal that is not JSON
    with an 'error', or an input refused without naming its field."""
    if status < 400:
        return None
    try:
        payload = json.loads(content)
    except ValueError:
        return f"a {status} that is not JSON: {content[:200]!r}"
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), str):
        return f"a {status} without an 'error': {payload}"
    if status >= 500 and not (status == 503 and "fallback could answer" in payload["error"]):
        return f"a {status}: {payload}"
    predicting = operation.endswith(("/predict", "/infer"))
    refused_input = status in (400, 413) or (status == 422 and predicting)
    named = isinstance(payload.get("field"), str)
    if (refused_input or payload.get("kind") == "Rejected") and not named:
        return f"a {status} refusing an input without naming the field: {payload}"
    return None
