"""Webhook URLs fit to show. A webhook's path, query or user info is the key that
lets anyone post to it, so messages, log lines and events show only its scheme and
host (``https://hooks.slack.com/***``), and no piece of the rest."""

from __future__ import annotations

import contextlib
import re
import urllib.parse

MASK = "***"
_SECRET_MIN = 4  # shorter pieces ("T0", "v1") are masked only as part of a longer one


def redacted(url: str) -> str:
    """A webhook URL fit to show: its scheme and host, the rest masked
    (``https://hooks.slack.com/***``); all of it masked if it has no host."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}/{MASK}"


def scrubbed(message: str, url: str) -> str:
    """``message`` with ``url`` shown :func:`redacted` and every other piece of it but
    its scheme and host (a path segment, a query value, a password) masked, as sent
    or percent-decoded: an error or a server's answer may quote any of them."""
    message = message.replace(url, redacted(url)).replace(url.strip(), redacted(url))
    for piece in sorted(_secret_pieces(url), key=len, reverse=True):
        message = message.replace(piece, MASK)
    return message


def _secret_pieces(url: str) -> set[str]:
    found: set[str] = set()
    for part in _private_parts(url.strip()):
        for form in {part, urllib.parse.unquote(part)}:
            found.add(form)
            found.update(re.split(r"[/?#&=@:;,\s]+", form))
    return {piece for piece in found if len(piece) >= _SECRET_MIN}


def _private_parts(url: str) -> list[str]:
    """What of ``url`` is not its scheme or host: all of it when it has no host."""
    with contextlib.suppress(ValueError):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme and parts.hostname:
            private = (parts.username, parts.password, parts.path, parts.query, parts.fragment)
            return [part for part in private if part]
    return [url]
