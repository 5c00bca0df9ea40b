"""Embedded mode: interactions arrive over the worker's own gateway session.

The payload of INTERACTION_CREATE is the same JSON Discord would POST to an interactions
URL, so it goes through the interactions package's parser and router unchanged (minus the
signature check: the gateway is authenticated). The router's answer is sent to the interaction
callback route, and jobs land on the in-process queue the worker consumes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import structlog
from discord.http import Route

from interactions.commands.base import JobSender, Services
from interactions.commands.status import GuildStatus
from interactions.context import MalformedInteraction, parse_interaction
from interactions.discord_types import InteractionType
from interactions.ratelimit import RateLimiter
from interactions.router import Router, UnsupportedInteraction
from shared.settings import Settings
from voice_worker.reporting import deliver
from voice_worker.session_store import SessionStore

log = structlog.get_logger(__name__)


class SnapshotStatus:
    """The interactions' PlayerStatusReader over the worker's session snapshots."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store

    async def guild_status(self, guild_id: str) -> GuildStatus | None:
        """What the guild's session last saved."""
        snapshot = await self._store.load(guild_id)
        if snapshot is None:
            return None
        now = snapshot.now_playing
        return GuildStatus(
            now_playing=now.track.label if now else None,
            paused=bool(now and now.paused),
            upcoming=tuple(item.label for item in snapshot.queue),
        )


def build_router(settings: Settings, queue: JobSender, store: SessionStore) -> Router:
    """The interactions router, wired as the HTTP front door wires it."""
    services = Services(
        queue=queue,
        enqueue_timeout_s=settings.enqueue_timeout_s,
        max_query_length=settings.max_query_length,
        allow_private_sources=settings.allow_private_sources,
        status=SnapshotStatus(store),
    )
    return Router(
        services,
        rate_limiter=RateLimiter(
            limit=settings.rate_limit_commands, window_s=settings.rate_limit_window_s
        ),
        guild_allowlist=settings.guild_allowlist,
    )


class GatewayInteractions:
    """Answers INTERACTION_CREATE payloads through the interaction callback REST route."""

    def __init__(self, router: Router, client: discord.Client) -> None:
        self._router = router
        self._client = client

    async def __call__(self, payload: dict[str, Any]) -> None:
        """Route one interaction and send the callback (within Discord's 3 s)."""
        try:
            interaction = parse_interaction(payload)
        except MalformedInteraction as exc:
            log.warning("interaction.malformed", error=str(exc))
            return
        if interaction.type is InteractionType.PING:
            return
        try:
            reply = await self._router.dispatch(interaction)
        except UnsupportedInteraction:
            log.info("interaction.unsupported", **interaction.log_fields())
            return
        route = Route(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            interaction_id=interaction.id,
            interaction_token=interaction.token,
        )
        http = self._client.http
        sent = await deliver(
            "interaction_callback",
            lambda: http.request(route, json=reply.body),
            sleep=asyncio.sleep,
        )
        log.info(
            "interaction.handled", outcome=reply.outcome, sent=sent, **interaction.log_fields()
        )
