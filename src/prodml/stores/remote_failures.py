"""Failed requests to an fsspec blob store, in words: the URL (without credentials),
what failed, and the next step, never the secret. For ``s3://`` the next step names
the AWS variables; s3fs turns the service's error codes into OSErrors and keeps the
botocore error as their cause, which is read here."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REFUSED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
    "AccountProblem",
    "PermissionError",
    "403",
}
NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}
UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ConnectionRefusedError",
    "ConnectionResetError",
}
SLOW = {"ReadTimeoutError", "TimeoutError", "FSTimeoutError"}


def explain(error: BaseException, doing: str, url: str, bucket: str, fs: Any) -> str:
    """What failed, in words: the URL without credentials, the reason, the next step;
    never the secret (masked wherever it would appear)."""
    s3 = "s3" in _protocols(fs)
    codes = _codes(error)
    url = without_credentials(url)
    environment = (
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        if s3
        else "the storage service's credentials"
    )
    if "NoSuchBucket" in codes:
        reason = f"bucket {bucket!r} does not exist"
        step = "Create it, or set PRODML_ARTIFACT_URL to a bucket that exists"
    elif codes & NO_CREDENTIALS:
        reason = "no credentials were found"
        step = f"Set {environment} in the environment"
    elif codes & REFUSED or isinstance(error, PermissionError):
        refused = sorted(codes & REFUSED - {"PermissionError", "403"}) or ["access denied"]
        reason = f"the storage service refused the request ({', '.join(refused)})"
        step = (
            f"Check {environment} in the environment, and that this key may read and "
            "write the bucket"
        )
    elif codes & UNREACHABLE or isinstance(error, ConnectionError):
        endpoint = _endpoint(fs)
        reason = f"the storage service at {endpoint} cannot be reached"
        step = (
            "Check that it is running and that AWS_ENDPOINT_URL names it"
            if s3
            else "Check that it is running and reachable"
        )
    elif codes & SLOW:
        reason = f"the storage service at {_endpoint(fs)} did not answer in time"
        step = "Check its load and the network between, then try again"
    else:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = f"{type(error).__name__}" + (f": {detail}" if detail else "")
        step = f"Check the storage service and {environment}, then try again"
    return _scrub(f"Cannot {doing} at {url}: {reason}. {step}.", fs)


def _endpoint(fs: Any) -> str:
    options = getattr(fs, "client_kwargs", None) or {}
    endpoint = (
        getattr(fs, "endpoint_url", None)
        or options.get("endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    return without_credentials(str(endpoint)) if endpoint else "its default endpoint"


def _codes(error: BaseException) -> set[str]:
    """The class names and service error codes of an error and of its causes."""
    found: set[str] = set()
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.update(kind.__name__ for kind in type(current).__mro__)
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = (response.get("Error") or {}).get("Code")
            if code:
                found.add(str(code))
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
    return found


def bucket_missing(error: BaseException) -> bool:
    return "NoSuchBucket" in _codes(error)


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _scrub(text: str, fs: Any) -> str:
    """``text`` with every secret the filesystem or the environment holds masked."""
    secrets = [
        os.environ.get("AWS_SECRET_ACCESS_KEY"),
        os.environ.get("AWS_SESSION_TOKEN"),
        getattr(fs, "secret", None),
        getattr(fs, "token", None),
    ]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return tuple(protocol) if isinstance(protocol, (tuple, list)) else (str(protocol),)
