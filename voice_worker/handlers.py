"""The worker's commands: turn a job into changes to the guild's session and a reply.

The same handlers serve the cloud worker (jobs from SQS) and the embedded bot (jobs from the
in-process queue): both go through the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import discord

from shared.jobs import ControlJob, PlayJob
from voice_worker.errors import GatewayNotReady, GuildUnavailable
from voice_worker.models import QueuedTrack
from voice_worker.reporting import Reply
from voice_worker.sessions import SessionManager
from voice_worker.sources.errors import SourceError
from voice_worker.tracks import TrackSource
from voice_worker.voice import check_can_join, find_user_channel

NOT_CONNECTED = "I'm not in a voice channel here."


class CommandHandlers:
    """A JobHandler over the gateway cache, the sources and the session registry."""

    def __init__(
        self, client: discord.Client, sessions: SessionManager, sources: TrackSource
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._sources = sources

    def _guild(self, guild_id: str) -> discord.Guild:
        if not self._client.is_ready() or self._client.is_closed():
            raise GatewayNotReady("the gateway session is not ready")
        guild = self._client.get_guild(int(guild_id))
        if guild is None:
            raise GuildUnavailable("guild_not_cached")
        if guild.unavailable:
            raise GatewayNotReady("the guild is unavailable (Discord outage)")
        return guild

    async def handle(self, job: PlayJob | ControlJob) -> Reply:
        """Carry out one job."""
        if isinstance(job, PlayJob):
            return await self._play(job, time.monotonic())
        guild = self._guild(job.guild_id)
        session = self._sessions.get(str(guild.id))
        if session is None:
            return Reply(NOT_CONNECTED, ephemeral=True)
        if job.kind == "skip":
            return await session.skip()
        if job.kind == "pause":
            return await session.pause()
        if job.kind == "resume":
            return await session.resume()
        if job.kind == "stop":
            return await session.stop(message="Stopped, cleared the queue and left the channel.")
        return await session.stop(message="Left the voice channel.")

    async def _play(self, job: PlayJob, received: float) -> Reply:
        guild = self._guild(job.guild_id)
        channel = find_user_channel(guild, int(job.requester.user_id))
        check_can_join(channel, guild.me)
        user = self._client.user
        assert user is not None  # ready implies logged in
        session = self._sessions.open(guild, text_channel_id=job.channel_id, bot_id=user.id)
        # Join and look the track up at the same time: both take a while.
        join = asyncio.ensure_future(session.join(channel))
        try:
            lookup = await self._sources.lookup(job.query)
        except BaseException:
            with contextlib.suppress(Exception):
                await join
            await session.leave_if_unused()
            raise
        await join
        item = QueuedTrack(
            ref=lookup.entries[0].as_ref(),
            requester_id=job.requester.user_id,
            requester_name=job.requester.display_name,
            job_id=job.job_id,
        )
        try:
            return await session.play(item, lookup, play_next=job.play_next, since=received)
        except SourceError:
            await session.leave_if_unused()
            raise
