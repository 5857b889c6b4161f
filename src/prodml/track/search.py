"""Searching runs: a filter in the run filter language, sort keys, pages.

A page token carries the offset of the next page and a digest of the search it
belongs to, so a token is refused with another filter or order instead of
silently paging through a different result. Pages are stable: every order ends
with the run id, so runs that tie on every sort key keep one order across pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence

from prodml.client import Client
from prodml.domain.run_query import AllOf, Field, Op, RunPage, RunQuery, Term
from prodml.errors import InvalidInputError
from prodml.track.run_filter import parse_filter, parse_order

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000


def _digest(text: str, order: Sequence[str], experiment: str | None) -> str:
    document = json.dumps([text, list(order), experiment])
    return hashlib.blake2b(document.encode(), digest_size=6).hexdigest()


def _token(offset: int, digest: str) -> str:
    document = json.dumps({"offset": offset, "search": digest}).encode()
    return base64.urlsafe_b64encode(document).decode().rstrip("=")


def _offset_of(token: str, digest: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, search = document["offset"], document["search"]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        raise InvalidInputError(
            f"Page token {token[:40]!r} is not one this search gave. "
            "Start from the first page (no page token)."
        ) from None
    if search != digest or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInputError(
            f"Page token {token[:40]!r} belongs to another filter or order. "
            "Start from the first page of this search (no page token)."
        )
    return offset


def _check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"A page holds 1 to {MAX_LIMIT} runs, not {limit!r}.")
    return limit


def search_runs(
    client: Client,
    filter: str = "",
    order_by: Sequence[str] | str | None = None,
    limit: int = 50,
    page_token: str | None = None,
    experiment: str | None = None,
    offset: int | None = None,
) -> RunPage:
    where = parse_filter(filter)
    order = parse_order(order_by)
    if experiment is not None:
        scope = Term(Field.ATTRIBUTE, "experiment", Op.EQ, (experiment,))
        where = scope if where is None else AllOf((scope, where))
    raw_order = [order_by] if isinstance(order_by, str) else list(order_by or [])
    digest = _digest(filter, raw_order, experiment)
    start = _offset_of(page_token, digest) if page_token else 0
    if offset is not None:
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise InvalidInputError(f"offset is a whole number from 0, not {offset!r}.")
        start = offset
    query = RunQuery(where=where, order=order, limit=_check_limit(limit), offset=start)
    runs, total = client.metadata.search_runs(query)
    following = start + len(runs)
    token = _token(following, digest) if following < total and runs else None
    return RunPage(runs=tuple(runs), total=total, next_page_token=token, offset=start)
