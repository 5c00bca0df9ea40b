"""Point discord.py at discord.com or at the fake Discord, from settings alone.

discord.py keeps its REST base (``Route.BASE``) and first gateway URL
(``DiscordWebSocket.DEFAULT_GATEWAY``) as class attributes, so pointing it is process-wide:
one worker process talks to one Discord. TLS trust (the fake's throwaway CA) goes into the
aiohttp connector the client is built with, which also serves the voice websocket (always
``wss://``).
"""

from __future__ import annotations

import ssl

import aiohttp
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from shared.settings import Settings


def point_discord_py(settings: Settings) -> None:
    """Set discord.py's REST base and, when configured, its gateway URL."""
    Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The system trust store plus DISCORD_CA_FILE when set; None means aiohttp's default."""
    if not settings.discord_ca_file:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=settings.discord_ca_file)
    return context


def make_connector(settings: Settings) -> aiohttp.TCPConnector:
    """The connector for discord.py's session (call inside a running event loop)."""
    context = ssl_context(settings)
    # limit=0 as discord.py's own default: its rate limiter, not the pool, paces requests.
    if context is None:
        return aiohttp.TCPConnector(limit=0)
    return aiohttp.TCPConnector(limit=0, ssl=context)
