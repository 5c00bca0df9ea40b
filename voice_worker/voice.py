"""Voice channel questions answered from the gateway cache: where is the user, may we join."""

from __future__ import annotations

import asyncio
import contextlib

import discord
from discord.channel import VocalGuildChannel
from discord.voice_state import ConnectionFlowState

from voice_worker.errors import (
    NotInVoice,
    VoiceChannelUnavailable,
    VoiceConnectFailed,
    dave_required,
)
from voice_worker.voice_connection import DropHandler, RecoveringVoiceClient

# The common base of voice and stage channels: what a bot can join.
VocalChannel = VocalGuildChannel


def find_user_channel(guild: discord.Guild, user_id: int) -> VocalChannel:
    """The voice channel the user is in, from cached voice states; raises NotInVoice."""
    member = guild.get_member(user_id)
    if member is not None and member.voice is not None and member.voice.channel is not None:
        return member.voice.channel
    # Voice states are cached per channel even when the member object is not.
    for channel in (*guild.voice_channels, *guild.stage_channels):
        if user_id in channel.voice_states:
            return channel
    raise NotInVoice("not_in_voice")


def listeners(channel: VocalChannel, bot_id: int) -> int:
    """How many others (not the bot itself) are in the channel."""
    return sum(1 for user_id in channel.voice_states if user_id != bot_id)


def human_listeners(channel: VocalChannel, bot_id: int) -> frozenset[str]:
    """User ids of the humans listening in the channel: not bots, not deafened.

    A member the cache doesn't know counts as a human (voice state updates carry the member,
    so this is rare): better one vote too many needed than a bot's seat counted.
    """
    guild = channel.guild
    found: set[str] = set()
    for user_id, state in channel.voice_states.items():
        if user_id == bot_id or state.deaf or state.self_deaf:
            continue
        member = guild.get_member(user_id)
        if member is not None and member.bot:
            continue
        found.add(str(user_id))
    return frozenset(found)


def check_can_join(channel: VocalChannel, me: discord.Member | None) -> None:
    """Raise VoiceChannelUnavailable unless the bot may connect and speak in the channel.

    A full channel is checked here because Discord answers it with silence: the voice
    handshake just never completes and discord.py times out after 30 s.
    """
    if me is None:
        return  # no cached member for ourselves: let the connect attempt decide
    if me.voice is not None and me.voice.channel is not None and me.voice.channel.id == channel.id:
        return
    permissions = channel.permissions_for(me)
    if not permissions.connect or not permissions.view_channel:
        raise VoiceChannelUnavailable(
            "no_connect", f"I don't have permission to join <#{channel.id}>."
        )
    if not permissions.speak:
        raise VoiceChannelUnavailable(
            "no_speak", f"I don't have permission to speak in <#{channel.id}>."
        )
    limit = channel.user_limit
    if limit and len(channel.voice_states) >= limit and not permissions.move_members:
        raise VoiceChannelUnavailable("channel_full", f"<#{channel.id}> is full.")


async def connect(
    channel: VocalChannel, *, timeout_s: float, on_drop: DropHandler | None = None
) -> discord.VoiceClient:
    """Join ``channel``; raises VoiceConnectFailed, or FatalConfigError on close 4017.

    reconnect=False: a refused handshake raises at once with its close code, instead of
    discord.py leaving and rejoining five times (4017, DAVE required, would never get better).
    Closes once connected follow voice_connection.py: resumed there, or ``on_drop`` is told.
    """
    stale = channel.guild.voice_client
    if stale is not None:
        # A connection that died under us is still registered: discord.py refuses a second.
        with contextlib.suppress(TimeoutError, discord.ClientException, OSError):
            await asyncio.wait_for(stale.disconnect(force=True), timeout=5)
    try:
        return await channel.connect(
            cls=lambda client, where: RecoveringVoiceClient(client, where, on_drop=on_drop),
            timeout=timeout_s,
            reconnect=False,
            self_deaf=True,
        )
    except discord.ConnectionClosed as exc:
        if exc.code == 4017:
            raise dave_required() from None
        raise VoiceConnectFailed(f"voice websocket closed with {exc.code}") from None
    except TimeoutError:
        raise VoiceConnectFailed("voice handshake timed out") from None


async def drop_locally(voice: discord.VoiceClient) -> None:
    """Close our end of a voice connection without telling the gateway we left.

    ``VoiceClient.disconnect`` sends opcode 4 with ``channel_id: null``; when another worker
    owns the guild now, that would kick it out. discord.py has no public "forget" call, so this
    uses its connection state's soft disconnect (which also stops its reconnect loop, whose
    give-up path would send that opcode 4) and then the client's cleanup.
    """
    voice.stop()
    state = getattr(voice, "_connection", None)
    if state is not None:
        # Best effort: the connection may be half dead already.
        with contextlib.suppress(OSError, RuntimeError, discord.DiscordException):
            await state.soft_disconnect(with_state=ConnectionFlowState.disconnected)
            state._socket_reader.stop()  # see docstring
    voice.cleanup()
