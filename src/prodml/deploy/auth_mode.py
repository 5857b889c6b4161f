"""The auth mode of a store: ``off``, ``admin`` (deploy actions need a deployer
token) or ``all`` (predictions need a token too).

The mode is the latest ``auth.mode`` event in the store, so every process on the
store (CLI, notebooks, every gateway replica) agrees, and a caller cannot lower it
from their own environment. The read is cached for a second, so the gateway's
request path asks the store at most once a second. The ``auth`` setting
(``PRODML_AUTH``) can only raise the mode for one process, e.g. a gateway that
should demand tokens for predictions while the store says ``admin``."""

from __future__ import annotations

from prodml.client import Client
from prodml.deploy.expiring import Expiring
from prodml.domain.lineage import Event
from prodml.errors import StoreError

OFF, ADMIN, ALL = "off", "admin", "all"
MODES = (OFF, ADMIN, ALL)  # weakest first
SUBJECT = ("auth", "mode")
CACHE_SECONDS = 1.0

_fresh: Expiring[str, str] = Expiring(256, CACHE_SECONDS)
_last_read: dict[str, str] = {}


def latest(client: Client) -> Event | None:
    """The event that set the store's mode (None: never set, so ``off``)."""
    events = client.metadata.list_events(subject=SUBJECT)
    return events[-1] if events else None


def stored(client: Client) -> str:
    """The store's mode, read afresh."""
    return mode_of(latest(client))


def mode_of(event: Event | None) -> str:
    mode = OFF if event is None else event.details.get("mode")
    # only prodml writes this event; anything else in it is read as the strictest mode
    return mode if isinstance(mode, str) and mode in MODES else ALL


def of_store(client: Client) -> str:
    """The store's mode, at most a second old."""
    url = client.settings.metadata_url
    hit, mode = _fresh.get(url)
    if hit and mode is not None:
        return mode
    try:
        mode = stored(client)
    except StoreError:
        if url in _last_read:  # the store is unreachable for now: keep the mode last read
            return _last_read[url]
        raise
    _fresh.put(url, mode)
    _last_read[url] = mode
    return mode


def effective(client: Client) -> str:
    """The store's mode, raised (never lowered) by this process's ``auth`` setting."""
    return raised(client, of_store(client))


def raised(client: Client, mode: str) -> str:
    setting = client.settings.auth if client.settings.auth in MODES else OFF
    return max(mode, setting, key=MODES.index)


def forget(client: Client) -> None:
    """Read the mode afresh next time (after this process changed it)."""
    url = client.settings.metadata_url
    _fresh.drop(lambda key, _: key != url)
