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

from interactions.app import build_router as build_front_door_router
from interactions.commands.base import JobSender
from interactions.context import MalformedInteraction, parse_interaction
from interactions.discord_types import InteractionType
from interactions.router import Router, UnsupportedInteraction
from interactions.store_access import FrontDoorStore
from shared.settings import Settings
from shared.state import StateStore
from voice_worker.reporting import deliver

log = structlog.get_logger(__name__)


def build_router(settings: Settings, queue: JobSender, state: StateStore) -> Router:
    """The interactions router, wired as the HTTP front door wires it, reading the worker's
    own store for /queue, /nowplaying, /history, playlists and settings."""
    store = FrontDoorStore(lambda: state, timeout_s=settings.store_timeout_s)
    return build_front_door_router(settings, queue, store=store)


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
