"""Request bodies and headers read with limits: the body's declared length is
checked before a byte is read and the stream is read with a cap and a deadline, so a
client cannot make the gateway buffer more than the limit nor hold a request open by
sending its body slowly; request ids and admin bodies are checked by field."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
from starlette.requests import ClientDisconnect, Request

from prodml.serve.values import Rejected

MAX_WHY = 2_000
BODY_SECONDS = 10.0  # for the whole body to arrive
GONE = 499  # the client left before its body was read (nginx's code)


async def read(request: Request, limit: int, seconds: float = BODY_SECONDS) -> bytes:
    """The raw body, refused with 413 as soon as it is known to pass ``limit`` and
    with 408 when it has not all arrived ``seconds`` after the handler asked for it."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Rejected("The Content-Length header is not a number.", "content-length", 400)
        if int(declared) > limit:
            raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(size, limit, "at least ")
                chunks.append(chunk)
    except TimeoutError:
        raise Rejected(
            f"The body did not arrive within {seconds:g} s ({size:,} bytes came); "
            "send it at once, or split the rows over several requests.",
            "body",
            408,
        ) from None
    except ClientDisconnect:  # nobody to answer; counted under its own status
        raise Rejected(
            "The client closed the connection before its body came.", "body", GONE
        ) from None
    return b"".join(chunks)


def _too_large(size: int, limit: int, bound: str = "") -> Rejected:
    return Rejected(
        f"The body has {bound}{size:,} bytes; the limit is {limit:,}. "
        "Split the rows over several requests.",
        "body",
        413,
    )


LONG_NUMBER = re.compile(rb"\d{16}")


async def parsed(request: Request, limit: int, seconds: float = BODY_SECONDS) -> Any:
    """The body as JSON (400 when it is not)."""
    return loads(await read(request, limit, seconds))


def loads(raw: bytes) -> Any:
    """JSON with every integer exact. orjson reads an integer past 64 bits as a float,
    which would hide it from the checks at the edge (-2^63-1 would pass as -2^63), so
    a body holding a long run of digits is read again by the standard parser."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Rejected(f"The body is not valid JSON: {error}.", "body", 400) from None
    if LONG_NUMBER.search(raw) is None:
        return body
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise Rejected(f"The body is not valid JSON: {error}.", "body", 400) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def why_of(request: Request, limit: int, seconds: float = BODY_SECONDS) -> str | None:
    """The reason an admin action carries: an optional body ``{"why": "..."}``."""
    raw = await read(request, limit, seconds)
    if not raw.strip():
        return None
    body = loads(raw)
    if body is None:
        return None
    if not isinstance(body, Mapping):
        raise Rejected('The body must be a JSON object such as {"why": "..."}.', "body")
    unknown = sorted(str(key) for key in body if key != "why")
    if unknown:
        raise Rejected(
            f"Unknown field {unknown[0][:40]!r}; an admin action takes only 'why'.", unknown[0][:40]
        )
    why = body.get("why")
    if why is not None and (not isinstance(why, str) or len(why) > MAX_WHY):
        raise Rejected(f"Field 'why' must be a text of at most {MAX_WHY:,} characters.", "why")
    return why
