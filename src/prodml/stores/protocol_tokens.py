"""The part of the metadata store that keeps API tokens (``sql_tokens``)."""

from __future__ import annotations

from typing import Protocol

from prodml.domain.token import TokenRecord


class TokenStore(Protocol):
    def add_token(self, name: str, digest: str, role: str) -> None: ...

    def token(self, digest: str) -> TokenRecord | None:
        """The active token with this digest (found by the indexed column, then compared
        in constant time)."""

    def tokens(self) -> list[TokenRecord]:
        """Every token by name, revoked ones too."""

    def revoke_token(self, name: str) -> None: ...
