"""The registry of guild sessions in this worker process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import discord
import structlog

from voice_worker.errors import FatalConfigError
from voice_worker.reporting import SessionReporter
from voice_worker.session import GuildSession, SessionConfig, SessionHooks
from voice_worker.session_store import SessionStore
from voice_worker.tracks import TrackSource

log = structlog.get_logger(__name__)


class SessionManager:
    """Creates, finds and forgets GuildSessions; one per guild with a voice connection."""

    def __init__(
        self,
        *,
        sources: TrackSource,
        reporter: SessionReporter,
        store: SessionStore,
        config: SessionConfig,
        on_fatal: Callable[[FatalConfigError], None],
        on_first_audio: Callable[[float], None],
        on_count_changed: Callable[[int], None] | None = None,
        may_rejoin: Callable[[str], bool] | None = None,
    ) -> None:
        # on_count_changed: the number of active sessions after every open and close (scale-in
        # protection and metrics hook in here).
        self._on_count_changed = on_count_changed
        self._sources = sources
        self._reporter = reporter
        self._store = store
        self._config = config
        self._sessions: dict[str, GuildSession] = {}
        self._hooks = SessionHooks(closed=self._closed, fatal=on_fatal, first_audio=on_first_audio)
        if may_rejoin is not None:  # with leases: only their holder sends opcode 4
            self._hooks.may_rejoin = may_rejoin

    @property
    def active(self) -> int:
        """How many guild sessions exist."""
        return len(self._sessions)

    def get(self, guild_id: str) -> GuildSession | None:
        """The guild's session, if it has one."""
        return self._sessions.get(guild_id)

    def open(self, guild: discord.Guild, *, text_channel_id: str, bot_id: int) -> GuildSession:
        """The guild's session, created (connecting) when it has none."""
        session = self._sessions.get(str(guild.id))
        if session is None:
            session = GuildSession(
                guild,
                text_channel_id,
                bot_id=bot_id,
                sources=self._sources,
                reporter=self._reporter,
                store=self._store,
                config=self._config,
                hooks=self._hooks,
            )
            self._sessions[session.guild_id] = session
            log.info("session.opened", guild_id=session.guild_id, active=self.active)
            self._count_changed()
        else:
            session.text_channel_id = text_channel_id  # notices go where the last command came from
        return session

    def _closed(self, session: GuildSession) -> None:
        if self._sessions.get(session.guild_id) is session:
            del self._sessions[session.guild_id]
            self._count_changed()

    def _count_changed(self) -> None:
        if self._on_count_changed is not None:
            self._on_count_changed(self.active)

    def on_voice_change(self, guild_id: int, member_id: int, channel_id: int | None) -> None:
        """Route a voice state change to the guild's session."""
        session = self._sessions.get(str(guild_id))
        if session is not None:
            session.on_voice_change(member_id, channel_id)

    async def shutdown(self, timeout_s: float) -> None:
        """Save every session's snapshot and leave voice, within timeout_s."""
        sessions = list(self._sessions.values())
        if not sessions:
            return
        tasks = [asyncio.create_task(s.shutdown()) for s in sessions]
        done, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log.info("sessions.shutdown", left=len(done), abandoned=len(pending))
