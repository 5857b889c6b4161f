"""Sign-off: approvers a model requires before a version becomes champion, and their
approvals (see :mod:`prodml.deploy.approvals`).

Requiring approvers and approving are deploy actions: they need a deployer token
while the store's auth is on. The approver is the name of the token presented
(``PRODML_TOKEN``), else the user (``PRODML_USER``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prodml import times
from prodml.client import Client, default_client

if TYPE_CHECKING:
    from prodml.deploy.approvals import Approval, SignOff


def require_approval(
    name: str,
    approvers: Iterable[str] | str,
    why: str | None = None,
    client: Client | None = None,
) -> SignOff:
    """Require each approver (names, or one comma-separated text) to approve a version of
    ``name`` before it becomes champion; none clears the requirement."""
    from prodml.deploy import approvals, tokens

    listed = approvers.split(",") if isinstance(approvers, str) else list(approvers)
    chosen = [a for a in (str(a).strip() for a in listed) if a]
    acting = tokens.authorised(client or default_client(), "sign-off")
    return approvals.require(acting, name, chosen, why)


def approve(
    name: str, version: str | int, why: str | None = None, client: Client | None = None
) -> Approval:
    """Approve ``version`` (a number or an alias) of ``name`` as the acting person."""
    from prodml.deploy import approvals, tokens

    acting = tokens.authorised(client or default_client(), "approve")
    return approvals.approve(acting, name, str(version), why)


def approvals(
    name: str,
    version: str | int | None = None,
    as_of: datetime | str | None = None,
    client: Client | None = None,
) -> SignOff:
    """Who ``name`` requires to approve and, for a version, who has and who is missing;
    now or as of a past time (a datetime or text such as ``2026-11-24`` or ``7d``)."""
    from prodml.deploy import approvals as sign_offs

    moment = times.moment(as_of, "--as-of")
    return sign_offs.sign_off(client or default_client(), name, version, moment)
