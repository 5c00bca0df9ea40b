"""Taking a guild over from another worker: rejoin its channel, resume its track and queue.

Runs when this worker acquires a guild's lease (orphan scan, or the first job for a guild
whose owner died). The guild's stored state says where it was: the voice channel, the track
on air and its last saved position, the queue. A 24/7 guild is rejoined even when idle, as
long as its state still names the voice channel: a handover keeps it, a /stop or /leave
clears it (DurableSessionStore.delete), so a guild left on purpose stays left. A job for
the guild waits for its takeover to finish (``wait``), so a /play after a crash queues
behind the resumed track instead of replacing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import discord
import structlog
from discord.channel import VocalGuildChannel

from shared.state import StoreUnavailable
from voice_worker.errors import WorkerError
from voice_worker.session_store import SessionStore
from voice_worker.sessions import SessionManager
from voice_worker.sources.errors import SourceError

log = structlog.get_logger(__name__)

Resume = Callable[[str], Awaitable[None]]


class Takeovers:
    """One resume task per guild at a time; jobs for the guild can wait for it."""

    def __init__(self, resume: Resume) -> None:
        self._resume = resume
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def running(self, guild_id: str) -> bool:
        """Whether the guild is being taken over now."""
        task = self._tasks.get(guild_id)
        return task is not None and not task.done()

    async def start(self, guild_id: str) -> None:
        """Begin taking the guild over (returns at once)."""
        if self.running(guild_id):
            return
        task = asyncio.create_task(self._run(guild_id), name=f"takeover-{guild_id}")
        self._tasks[guild_id] = task

    async def wait(self, guild_id: str) -> None:
        """Wait for the guild's takeover, if one runs."""
        task = self._tasks.get(guild_id)
        if task is not None:
            await asyncio.shield(task)

    async def _run(self, guild_id: str) -> None:
        try:
            await self._resume(guild_id)
        except (
            WorkerError,
            SourceError,
            StoreUnavailable,
            discord.DiscordException,
            OSError,
            TimeoutError,
        ) as exc:
            log.warning("takeover.failed", guild_id=guild_id, error=type(exc).__name__)
        finally:
            self._tasks.pop(guild_id, None)

    async def aclose(self) -> None:
        """Cancel takeovers still running (shutdown)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Resumer:
    """Resumes a guild from its stored state through the gateway cache and the sessions."""

    def __init__(
        self, client: discord.Client, sessions: SessionManager, store: SessionStore
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._store = store

    async def __call__(self, guild_id: str) -> None:
        """Rejoin and resume the guild if its state has something to play, or if it is a
        24/7 guild whose bot was in a voice channel (a /stop or /leave clears the channel)."""
        snapshot = await self._store.load(guild_id)
        if snapshot is None:
            return
        stays = snapshot.player.stay_24_7 and snapshot.voice_channel_id is not None
        if not (snapshot.now_playing or snapshot.queue or stays):
            return
        if self._sessions.get(guild_id) is not None:
            return
        guild = self._client.get_guild(int(guild_id))
        channel_id = snapshot.voice_channel_id
        channel = guild.get_channel(int(channel_id)) if guild and channel_id else None
        user = self._client.user
        if guild is None or user is None or not isinstance(channel, VocalGuildChannel):
            log.warning("takeover.no_channel", guild_id=guild_id, channel_id=channel_id)
            return
        log.info(
            "takeover.resuming",
            guild_id=guild_id,
            position_s=snapshot.now_playing.position_s if snapshot.now_playing else None,
            queued=len(snapshot.queue),
            stay_24_7=snapshot.player.stay_24_7,
        )
        session = self._sessions.open(
            guild, text_channel_id=snapshot.text_channel_id or "", bot_id=user.id
        )
        await session.restore(snapshot, channel)
