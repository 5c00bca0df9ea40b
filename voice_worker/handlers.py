"""The worker's commands: turn a job into changes to the guild's session and a reply.

The same handlers serve the cloud worker (jobs from SQS) and the embedded bot (jobs from the
in-process queue): both go through the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import assert_never

import discord
import structlog

from shared.jobs import (
    AnyJob,
    FilterCommand,
    IndexCommand,
    LoopCommand,
    MoveCommand,
    PlainCommand,
    PlayerCommandJob,
    PlayJob,
    PlaylistLoadJob,
    SearchJob,
    SeekCommand,
    ToggleCommand,
    UnsupportedCommandJob,
    VolumeCommand,
)
from voice_worker.errors import GatewayNotReady, GuildUnavailable, UserFacingError
from voice_worker.models import QueuedTrack, QueueFull
from voice_worker.playlist_load import (
    NEEDS_STORE,
    PlaylistReader,
    fitting_items,
    load_reply,
    queue_items,
    read_playlist,
)
from voice_worker.reporting import Reply
from voice_worker.search import run_search
from voice_worker.session import GuildSession
from voice_worker.sessions import SessionManager
from voice_worker.tracks import TrackSource
from voice_worker.voice import check_can_join, find_user_channel

log = structlog.get_logger(__name__)

NOT_CONNECTED = "I'm not in a voice channel here."
# A command this worker does not know (e.g. a newer front door during a rolling deploy).
NOT_SUPPORTED = "That command isn't available yet. Try /help for what works now."


class CommandHandlers:
    """A JobHandler over the gateway cache, the sources and the session registry."""

    def __init__(
        self,
        client: discord.Client,
        sessions: SessionManager,
        sources: TrackSource,
        *,
        playlists: PlaylistReader | None = None,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._sources = sources
        # The state store, for /playlist load; None: no saved playlists (in-memory worker).
        self._playlists = playlists

    def _guild(self, guild_id: str) -> discord.Guild:
        if not self._client.is_ready() or self._client.is_closed():
            raise GatewayNotReady("the gateway session is not ready")
        guild = self._client.get_guild(int(guild_id))
        if guild is None:
            raise GuildUnavailable("guild_not_cached")
        if guild.unavailable:
            raise GatewayNotReady("the guild is unavailable (Discord outage)")
        return guild

    async def handle(self, job: AnyJob) -> Reply:
        """Carry out one job."""
        if isinstance(job, PlayJob):
            return await self._play(job, time.monotonic())
        if isinstance(job, SearchJob):
            return await run_search(self._sources, job)
        if isinstance(job, PlaylistLoadJob):
            return await self._load_playlist(job)
        if isinstance(job, UnsupportedCommandJob):
            log.info("job.unsupported_command", command=job.command.name)
            return Reply(NOT_SUPPORTED, ephemeral=True)
        guild = self._guild(job.guild_id)
        session = self._sessions.get(str(guild.id))
        if session is None:
            return Reply(NOT_CONNECTED, ephemeral=True)
        session.text_channel_id = job.channel_id  # notices and the player follow the last command
        if isinstance(job, PlayerCommandJob):
            return await player_command(session, job)
        if job.kind == "skip":
            return await session.vote_skip(job.requester)
        if job.kind == "pause":
            return await session.pause()
        if job.kind == "resume":
            return await session.resume()
        if job.kind == "stop":
            return await session.stop(message="Stopped, cleared the queue and left the channel.")
        if job.kind == "leave":
            return await session.stop(message="Left the voice channel.")
        assert_never(job.kind)

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
            return await session.play(
                item, lookup, play_next=job.play_next, since=received, job=job
            )
        except (UserFacingError, QueueFull):  # a dead link, too long, the queue full
            await session.leave_if_unused()
            raise

    async def _load_playlist(self, job: PlaylistLoadJob) -> Reply:
        if self._playlists is None:
            return Reply(NEEDS_STORE, ephemeral=True)
        playlist, bounds = await read_playlist(self._playlists, job)
        max_length_s = bounds.max_track_length_s
        items, too_long = fitting_items(playlist, queue_items(playlist, job), max_length_s)
        guild = self._guild(job.guild_id)
        channel = find_user_channel(guild, int(job.requester.user_id))
        check_can_join(channel, guild.me)
        user = self._client.user
        assert user is not None  # ready implies logged in
        session = self._sessions.open(guild, text_channel_id=job.channel_id, bot_id=user.id)
        await session.join(channel)
        try:
            added, started, bound = await session.add_tracks(items, limit=bounds.max_queue_length)
        finally:
            await session.leave_if_unused()
        return load_reply(
            playlist, added, started, room_limit=bound, too_long=too_long, max_length_s=max_length_s
        )


async def player_command(session: GuildSession, job: PlayerCommandJob) -> Reply:
    """Carry out one player command; one this worker does not handle is declined politely."""
    command = job.command
    if isinstance(command, LoopCommand):
        return await session.set_loop(command.mode)
    if isinstance(command, VolumeCommand):
        return await session.set_volume(command.percent)
    if isinstance(command, SeekCommand):
        return await session.seek(command.position_s)
    if isinstance(command, MoveCommand):
        return await session.move(command.from_index, command.to_index)
    if isinstance(command, IndexCommand):
        if command.name == "remove":
            return await session.remove(command.index)
        return await session.skip_to(command.index)
    if isinstance(command, FilterCommand):
        return await session.set_filter(command.preset)
    if isinstance(command, PlainCommand):
        if command.name == "shuffle":
            return await session.shuffle()
        if command.name == "clear":
            return await session.clear()
        return await session.previous()
    if isinstance(command, ToggleCommand):
        if command.name == "autoplay":
            return await session.set_autoplay(command.enabled)
        return await session.set_stay(command.enabled)
    assert_never(command)
