"""The worker's health endpoint (``GET /health``) and the client side of ``--check``.

The server is aiohttp on the worker's loop; the check is a blocking HTTP GET made by a
separate short-lived process (a container HEALTHCHECK), so it uses httpx's sync client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

HealthReport = Callable[[], tuple[bool, dict[str, Any]]]


class HealthServer:
    """Serves ``/health``: 200 with JSON when healthy, 503 with the same JSON when not."""

    def __init__(self, report: HealthReport, *, host: str, port: int) -> None:
        self._report = report
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def _health(self, _request: web.Request) -> web.Response:
        healthy, body = self._report()
        return web.json_response(body, status=200 if healthy else 503)

    async def start(self) -> None:
        """Bind and serve (port 0 picks a free port, see ``self.port``)."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("health.listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def check(url: str, *, timeout_s: float = 3.0) -> tuple[int, str]:
    """Ask a health endpoint; exit code 0 when it answers 200, else 1, and a one-line summary."""
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return 1, f"unhealthy: {url} unreachable ({type(exc).__name__})"
    try:
        status = response.json().get("status", "?")
    except ValueError:
        status = "?"
    if response.status_code == 200:
        return 0, f"healthy: {status}"
    return 1, f"unhealthy: HTTP {response.status_code} ({status})"
