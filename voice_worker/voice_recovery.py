"""When the voice connection ends without the bot asking: a kick, or a close code Discord
sends (voice_connection.py decides which ones reach here). Either rejoin the same channel and
resume the track where it was, or end the session keeping its queue and say so once.

``VoiceRecovery`` is a base class of ``GuildSession`` (like ``PlayerCommands``): what it uses
of the session's other parts is declared in session_base.py; everything runs under the
session's lock.
"""

from __future__ import annotations

import discord

from voice_worker.errors import VoiceConnectFailed
from voice_worker.player_commands import INACTIVE
from voice_worker.session_base import SessionBase
from voice_worker.sources.errors import SourceError
from voice_worker.voice import connect, drop_locally
from voice_worker.voice_connection import VoiceDrop

# What the text channel is told when Discord ends the voice connection for good.
VOICE_LOST_NOTICE = (
    "I was disconnected from voice, so the music stopped. Your queue is kept: "
    "use /play to bring me back."
)


class VoiceRecovery(SessionBase):
    """Kicks and voice drops of the session's connection."""

    # --- kicks ---------------------------------------------------------------------------
    def on_voice_change(self, member_id: int, channel_id: int | None) -> None:
        """Someone joined or left a voice channel of this guild (called by the manager)."""
        if self.state in INACTIVE:
            return
        if member_id == self._bot_id and channel_id is None:
            self._tasks.spawn(self._external_disconnect())
            return
        self._check_listeners()

    async def _external_disconnect(self) -> None:
        """Kicked out of voice (a moderator, the channel deleted): keep the queue, say so."""
        await self._end_for_voice_loss("disconnected")

    # --- voice drops (voice_connection.py decides which close codes reach here) -------------
    def _on_voice_drop(self, drop: VoiceDrop, code: int | None) -> None:
        """Discord closed the voice connection and it could not resume (on the loop)."""
        # The position now, before the rejoin's handshake adds its seconds to the clock.
        position_s = self._player.position_s if self._player is not None else 0.0
        self._tasks.spawn(self._recover_voice(drop, code, position_s))

    async def _recover_voice(self, drop: VoiceDrop, code: int | None, position_s: float) -> None:
        if drop is VoiceDrop.REJOIN and not self._hooks.may_rejoin(self.guild_id):
            await self.abandon()  # the guild is another worker's now: no opcode 4 from here
            return
        if drop is VoiceDrop.REJOIN:
            async with self._lock:
                if self.state in INACTIVE:
                    return
                try:
                    await self._rejoin(position_s)
                except (VoiceConnectFailed, SourceError, discord.ClientException) as exc:
                    self._log.warning("session.rejoin_failed", error=type(exc).__name__)
                else:
                    self._log.info("session.rejoined", close_code=code, position_s=position_s)
                    return
        await self._end_for_voice_loss(f"voice_closed_{code}")

    async def _rejoin(self, position_s: float) -> None:
        """Join the same channel again (new voice session), resume the track there (lock held)."""
        voice, current = self._voice, self._current
        if voice is None:
            raise VoiceConnectFailed("no voice connection")
        self._halt()
        self._voice = None
        await drop_locally(voice)
        try:
            self._voice = await connect(
                voice.channel,
                timeout_s=self._config.voice_connect_timeout_s,
                on_drop=self._on_voice_drop,
            )
        except VoiceConnectFailed:
            self._current = current  # so the kept snapshot still names the track
            raise
        self._player = self._new_player(self._voice)
        if current is not None:
            await self._restart(current, position_s)
        else:
            await self._play_from_queue(notify=False)

    async def _end_for_voice_loss(self, reason: str) -> None:
        """End the session keeping its queue in the store, and tell the channel once."""
        async with self._lock:
            if self.state in INACTIVE:
                return
            await self._close_locked(reason, keep_snapshot=True)
        await self._reporter.notify(self.text_channel_id, VOICE_LOST_NOTICE)
