"""Times as people type them: one parser for every ``--since``, ``--as-of`` and
``since=`` in the CLI, the SDK and the dashboard.

Accepted: an ISO 8601 date or time (``2026-11-24``, ``2026-11-24T09:30:00Z``; a time
without a zone is local time, as people type it), ``now``, ``yesterday`` (24 hours
ago), or a span back from now: a number and one of ``m`` (minutes), ``h`` (hours),
``d`` (days) or ``w`` (weeks), such as ``30m``, ``1h``, ``24h``, ``7d`` or ``2w``.
Anything else is refused with a message that names these forms."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from prodml.domain.ids import parse_time
from prodml.errors import InvalidInputError

ACCEPTED = (
    "an ISO 8601 date or time (2026-11-24, 2026-11-24T09:30:00Z), 'now', 'yesterday', "
    "or a span back from now: 30s, 30m, 1h, 24h, 7d, 2w"
)
# A "+01:00" zone typed into a URL unencoded arrives as " 01:00": read it as "+".
_PLUS_AS_SPACE = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")  # what ``span`` writes, and weeks
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse(text: str, option: str = "The time", now: datetime | None = None) -> datetime:
    """The moment ``text`` names, as an aware datetime; ``option`` (e.g. ``--since``)
    names where it was typed in the error. Spans count back from ``now``."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{option} {text!r} is not a time. Give {ACCEPTED}.")
    typed = text.strip().lower()
    current = now or datetime.now().astimezone()
    if typed == "now":
        return current
    if typed == "yesterday":
        return current - timedelta(days=1)
    span = _SPAN.match(typed)
    if span:
        try:
            return current - timedelta(seconds=float(span.group(1)) * _UNIT_SECONDS[span.group(2)])
        except OverflowError:  # further back than a datetime reaches (year 1)
            raise InvalidInputError(f"{option} {text!r} reaches back before the year 1.") from None
    unplussed = _PLUS_AS_SPACE.match(text.strip())
    try:
        return parse_time(f"{unplussed[1]}+{unplussed[2]}" if unplussed else text)
    except ValueError:
        raise InvalidInputError(f"{option} {text!r} is not a time. Give {ACCEPTED}.") from None


def moment(value: datetime | str | None, option: str = "The time") -> datetime | None:
    """A datetime as given (a naive one read as local time), a typed time parsed, or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    return parse(value, option)


def span(seconds: float) -> str:
    """A duration in the largest whole unit: ``1h``, ``90m``, ``2d``; else seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def glance(seconds: float) -> str:
    """A duration as a glance reads it: ``0.4 s``, ``12 s``, ``3 min``, ``1.5 h``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
