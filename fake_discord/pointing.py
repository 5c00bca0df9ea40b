"""Point discord.py at another Discord (the fake) by configuration, never by editing it.

discord.py reads two class attributes: ``discord.http.Route.BASE`` (every REST URL, the
interaction webhook adapter's included, is built from it when a ``Route`` is created) and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (where a plain ``Client`` connects, and
where it goes back to after an invalid session). Both are process-wide, so this is too; that
is fine for a process that talks to one Discord. The voice websocket URL comes from
VOICE_SERVER_UPDATE and is always ``wss://``: trust the fake's CA through the client's
connector (:func:`connector_for`).

This module imports only discord.py, aiohttp, yarl and ssl, so a worker may use it.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aiohttp
import yarl

with warnings.catch_warnings():
    # discord.py 2.7 imports audioop (deprecated since Python 3.11): not our warning to fix.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

REAL_API_BASE = "https://discord.com/api/v10"
REAL_GATEWAY_URL = "wss://gateway.discord.gg/"


def point_discord_py(api_base: str, gateway_url: str) -> Callable[[], None]:
    """Send discord.py's REST calls to ``api_base`` (ending in ``/api/v10``) and its gateway
    connections to ``gateway_url``; returns a function restoring the previous targets."""
    if not api_base.rstrip("/").endswith("/api/v10"):
        raise ValueError(f"api_base must end with /api/v10, got {api_base!r}")
    previous_base, previous_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def restore() -> None:
        Route.BASE = previous_base
        DiscordWebSocket.DEFAULT_GATEWAY = previous_gateway

    return restore


@contextmanager
def pointed_at(api_base: str, gateway_url: str) -> Iterator[None]:
    """:func:`point_discord_py` for the duration of a ``with`` block."""
    restore = point_discord_py(api_base, gateway_url)
    try:
        yield
    finally:
        restore()


def ssl_context_for(ca_file: str) -> ssl.SSLContext:
    """A client SSL context trusting only ``ca_file`` (the fake's throwaway CA)."""
    return ssl.create_default_context(cafile=ca_file)


def connector_for(ca_file: str | None) -> aiohttp.TCPConnector | None:
    """The connector to pass as ``discord.Client(connector=...)``: it makes discord.py's voice
    ``wss://`` trust the fake's CA. None when no CA file is configured (real Discord).
    Call it from a running event loop (aiohttp binds connectors to the loop)."""
    if not ca_file:
        return None
    return aiohttp.TCPConnector(limit=0, ssl=ssl_context_for(ca_file))
