"""Voice states and voice server grants: what opcode 4 and test moves do to the guild."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fake_discord.core import INTENT_GUILD_VOICE_STATES, Core
from fake_discord.payloads import voice_state_payload
from fake_discord.world import Guild, Permission, VoiceState

_log = logging.getLogger(__name__)

# Discord closes a voice websocket with 4014 when the bot was moved out or disconnected.
CLOSE_DISCONNECTED = 4014
# After the bot leaves by itself, give the client time to close its voice socket first.
_SELF_LEAVE_CLOSE_DELAY_S = 2.0

SessionSender = Callable[[str, str, dict[str, object]], None]
VoiceCloser = Callable[[str, int], None]


@dataclass(frozen=True)
class VoiceGrant:
    """What VOICE_SERVER_UPDATE handed out; the voice gateway's identify must match it."""

    guild_id: str
    channel_id: str
    session_id: str
    token: str


class VoiceControl:
    """The one voice state a bot has per guild, and who owns it."""

    def __init__(self, core: Core, send_to_session: SessionSender) -> None:
        self._core = core
        self._send_to_session = send_to_session
        self.close_voice: VoiceCloser = lambda *_: None
        self.grants: dict[str, VoiceGrant] = {}

    def _dispatch_state(self, guild: Guild, user_id: str) -> None:
        payload = voice_state_payload(guild, guild.voice_states.get(user_id), user_id)
        self._core.dispatch_guild(
            guild.id, "VOICE_STATE_UPDATE", payload, INTENT_GUILD_VOICE_STATES
        )
        self._core.changes.pulse()

    def bot_state(self, guild_id: str) -> VoiceState | None:
        """The bot's voice state in a guild."""
        return self._core.guilds[guild_id].voice_states.get(self._core.bot.id)

    def request(
        self,
        session_id: str,
        guild_id: str,
        channel_id: str | None,
        self_mute: bool,
        self_deaf: bool,
    ) -> None:
        """Opcode 4 from a gateway session."""
        core = self._core
        guild = core.guilds.get(guild_id)
        if guild is None:
            core.recorder.fail("gateway", "voice state update for an unknown guild", guild_id)
            return
        if channel_id is None:
            self._leave(guild, expect_client_close=True)
            return
        channel = guild.channels.get(channel_id)
        if channel is None or channel.type != 2:
            core.recorder.fail(
                "gateway",
                "voice state update for a non-voice channel",
                {"guild_id": guild_id, "channel_id": channel_id},
            )
            return
        needed = Permission.VIEW_CHANNEL | Permission.CONNECT
        if guild.permissions_in(core.bot.id, channel_id) & needed != needed:
            # Discord ignores the request: the client times out (no error is sent).
            core.recorder.fail(
                "gateway",
                "voice join ignored: bot lacks CONNECT",
                {"guild_id": guild_id, "channel_id": channel_id},
            )
            return
        present = [u for u in guild.users_in_channel(channel_id) if u != core.bot.id]
        if channel.user_limit and len(present) >= channel.user_limit:
            core.recorder.fail(
                "gateway",
                "voice join ignored: channel is full",
                {"guild_id": guild_id, "channel_id": channel_id},
            )
            return
        previous = guild.voice_states.get(core.bot.id)
        if previous is not None and previous.session_id != session_id:
            # Another session takes the bot's voice state: the old voice connection dies.
            self.close_voice(guild_id, CLOSE_DISCONNECTED)
        guild.voice_states[core.bot.id] = VoiceState(
            guild_id, core.bot.id, channel_id, session_id, self_mute, self_deaf
        )
        self._dispatch_state(guild, core.bot.id)
        grant = VoiceGrant(guild_id, channel_id, session_id, secrets.token_hex(8))
        self.grants[guild_id] = grant
        self._send_to_session(
            session_id,
            "VOICE_SERVER_UPDATE",
            {"token": grant.token, "guild_id": guild_id, "endpoint": core.voice_endpoint},
        )

    def _leave(self, guild: Guild, *, expect_client_close: bool) -> None:
        bot_id = self._core.bot.id
        guild.voice_states.pop(bot_id, None)
        self.grants.pop(guild.id, None)
        self._dispatch_state(guild, bot_id)
        if expect_client_close:
            loop = asyncio.get_running_loop()
            loop.call_later(_SELF_LEAVE_CLOSE_DELAY_S, self._close_if_still_out, guild.id)
        else:
            self.close_voice(guild.id, CLOSE_DISCONNECTED)

    def _close_if_still_out(self, guild_id: str) -> None:
        if self.bot_state(guild_id) is None:
            self.close_voice(guild_id, CLOSE_DISCONNECTED)

    def disconnect_bot(self, guild_id: str) -> None:
        """Kick the bot out of voice (as a moderator or a channel deletion would)."""
        self._leave(self._core.guilds[guild_id], expect_client_close=False)

    def session_ended(self, session_id: str) -> None:
        """A gateway session is gone for good: its voice connections die with it."""
        for guild in self._core.guilds.values():
            state = guild.voice_states.get(self._core.bot.id)
            if state is not None and state.session_id == session_id:
                _log.info("voice state of guild %s dies with session %s", guild.id, session_id)
                self._leave(guild, expect_client_close=False)

    def move_user(
        self,
        guild_id: str,
        channel_id: str | None,
        user_id: str | None = None,
        *,
        self_deaf: bool = False,
    ) -> None:
        """Move a (human) user into a voice channel (deafened or not), or out with ``None``."""
        guild = self._core.guilds[guild_id]
        user_id = user_id or guild.human_user_id
        if user_id not in guild.members:
            raise KeyError(f"user {user_id} is not a member of guild {guild_id}")
        if channel_id is None:
            guild.voice_states.pop(user_id, None)
        else:
            if channel_id not in guild.channels or guild.channels[channel_id].type != 2:
                raise KeyError(f"{channel_id} is not a voice channel of guild {guild_id}")
            guild.voice_states[user_id] = VoiceState(
                guild_id, user_id, channel_id, secrets.token_hex(16), self_deaf=self_deaf
            )
        self._dispatch_state(guild, user_id)
