"""/queue and /nowplaying: answered immediately from the state store, when there is one.

The store is injected (`Services.status`); until it exists, or when it cannot be read, the
user gets a clear ephemeral message rather than a deferred answer nobody will complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog

from interactions import responses
from interactions.commands.base import Reply, Services
from interactions.context import Interaction

log = structlog.get_logger(__name__)

NOT_AVAILABLE = "I can't show that yet: use the player's messages in this channel for now."
UNREADABLE = "I can't see the player's state right now, please try again in a moment."
_SHOWN_UPCOMING = 10


@dataclass(frozen=True)
class GuildStatus:
    """What the worker last persisted for a guild."""

    now_playing: str | None = None
    paused: bool = False
    upcoming: tuple[str, ...] = ()


class PlayerStatusReader(Protocol):
    """The read side of the state store that the front door needs."""

    async def guild_status(self, guild_id: str) -> GuildStatus | None:
        """The guild's player state, or None when nothing was ever played there."""


class StatusUnavailable(RuntimeError):
    """The store could not be read now."""


async def _read(services: Services, interaction: Interaction) -> GuildStatus | Reply:
    if services.status is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    assert interaction.guild_id is not None
    try:
        status = await services.status.guild_status(interaction.guild_id)
    except StatusUnavailable:
        log.warning("interaction.status_unavailable", guild_id=interaction.guild_id)
        return Reply(responses.ephemeral(UNREADABLE), "degraded")
    return status or GuildStatus()


async def show_queue(services: Services, interaction: Interaction) -> Reply:
    """/queue: the current track and the next few."""
    status = await _read(services, interaction)
    if isinstance(status, Reply):
        return status
    if status.now_playing is None and not status.upcoming:
        return Reply(responses.ephemeral("The queue is empty."), "answered")
    lines = [f"Now: {status.now_playing}"] if status.now_playing else []
    lines += [f"{n}. {title}" for n, title in enumerate(status.upcoming[:_SHOWN_UPCOMING], 1)]
    if len(status.upcoming) > _SHOWN_UPCOMING:
        lines.append(f"…and {len(status.upcoming) - _SHOWN_UPCOMING} more")
    return Reply(responses.ephemeral("\n".join(lines)), "answered")


async def show_now_playing(services: Services, interaction: Interaction) -> Reply:
    """/nowplaying: the current track, if any."""
    status = await _read(services, interaction)
    if isinstance(status, Reply):
        return status
    if status.now_playing is None:
        return Reply(responses.ephemeral("Nothing is playing."), "answered")
    state = " (paused)" if status.paused else ""
    return Reply(responses.ephemeral(f"Now playing: {status.now_playing}{state}"), "answered")


COMMANDS_HANDLED = {"queue": show_queue, "nowplaying": show_now_playing}
