"""Names in the dashboard's paths. A dataset's or model's name may hold '/'
(team/churn); its links send it as one segment, with the slash as %2F. Starlette
routes on the decoded path, where that slash would split the name, so the app's
outermost layer keeps a segment's encoded slashes as ``SLASH`` and the ``part``
convertor of the routes that take a name turns them back: ``/models/team%2Fchurn/3``
is model team/churn, version 3, while ``/models/team/churn`` stays team, version churn."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

SLASH = "\ue000"  # a private-use character: no name holds it


class Part(Convertor[str]):
    """One path segment, its encoded slashes included."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace(SLASH, "/")

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


class Rest(Part):
    """The rest of the path (a name sent with its slashes as they are, or encoded)."""

    regex = ".*"


register_url_convertor("part", Part())
register_url_convertor("rest", Rest())
NAME = "{name:part}"  # a dataset's or model's name, as routes take it
MODEL = "{model:rest}"


class EncodedSlashes:
    """Keep the slashes a path sends encoded (%2F) apart from the ones between segments."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: Any = scope.get("raw_path")
        if scope["type"] == "http" and isinstance(raw, bytes) and b"%2f" in raw.lower():
            kept = _kept(raw)
            if kept is not None and kept.replace(SLASH, "/") == scope["path"]:
                scope = {**scope, "path": kept}
        await self.app(scope, receive, send)


def _kept(raw: bytes) -> str | None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return "/".join(unquote(segment).replace("/", SLASH) for segment in text.split("/"))
