"""A voice connection that survives Discord closing its websocket mid-track.

discord.py 2.7 handles voice closes in ``VoiceConnectionState._poll_voice_ws``. With
``reconnect=False`` (which the worker needs, see voice.py) every close it does not know leaves
the channel; with ``reconnect=True`` it leaves and rejoins (opcode 4, outside our lease check)
in an unbounded loop, and its 4015 resume sends opcode 4 while still connected, so the
VOICE_SERVER_UPDATE that follows closes the new attempt and it times out. This module replaces
that loop with the policy of docs/operations.md ("Voice closes"):

- resumable (4015, 1006 and other unknown codes, a heartbeat stall): RESUME (opcode 7) on a
  new websocket, no opcode 4; the UDP socket, SSRC and key stay, the paced stream holds its
  place meanwhile, so the track goes on where it stopped. A stall (a zombied websocket:
  nothing received, not even a HEARTBEAT_ACK) counts after two heartbeat periods and a margin
  (11 s with Discord's interval, as discord.py heartbeats every 5 s at most), instead of
  discord.py's fixed 30 s receive timeout;
- a new voice session needed (4006, 4009, or a resume that was refused): the owner is told to
  rejoin (``VoiceDrop.REJOIN``); the session does it, and only while it holds the guild's lease;
- ended by Discord (4021 rate limited, 4022 call terminated: "should not reconnect"): leave
  and tell the owner (``VoiceDrop.ENDED``);
- 1000 (we closed) and 4014 (kicked or moved): discord.py's own handling, which follows a move
  and reports a kick as a VOICE_STATE_UPDATE without a channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
import structlog
from discord.gateway import DiscordVoiceWebSocket
from discord.voice_state import ConnectionFlowState, VoiceConnectionState

log = structlog.get_logger(__name__)

# Discord: "Session no longer valid", "Session timeout": a new voice session is needed.
REJOIN_CLOSES = frozenset({4006, 4009})
# Discord: "should not reconnect".
ENDED_CLOSES = frozenset({4021, 4022})
# A RESUME answers at once or never: don't hold the listeners in silence for long.
RESUME_TIMEOUT_S = 5.0
# Silence on the voice websocket that makes it a zombie: this many heartbeat periods unanswered
# (Discord: a missing ACK means a failed connection, to be closed and resumed), plus a margin
# for the ACK's own latency.
STALL_HEARTBEATS = 2
STALL_MARGIN_S = 1.0
# The websocket a resume replaced may be a zombie that never answers our close frame.
OLD_SOCKET_CLOSE_TIMEOUT_S = 1.0
# Not 1000: a normal close could end the voice session the RESUME just took over.
RESUME_CLOSE_CODE = 4000


class VoiceDrop(enum.Enum):
    """What the owner of a voice connection must do after Discord closed it."""

    REJOIN = "rejoin"  # join the same channel again (new voice session), then resume the track
    ENDED = "ended"  # Discord ended the call: we left; keep the queue and tell the channel


DropHandler = Callable[[VoiceDrop, int | None], None]


def classify(code: int | None) -> VoiceDrop | None:
    """The owner's part after a close (None: the connection resumes, or discord.py handles it)."""
    if code in REJOIN_CLOSES:
        return VoiceDrop.REJOIN
    if code in ENDED_CLOSES:
        return VoiceDrop.ENDED
    return None


class RecoveringConnectionState(VoiceConnectionState):
    """discord.py's voice connection state machine with the close-code policy above."""

    def __init__(self, voice_client: discord.VoiceClient) -> None:
        super().__init__(voice_client, hook=self._on_message)
        self.on_drop: DropHandler | None = None
        self._resumed = asyncio.Event()

    async def _on_message(self, _ws: DiscordVoiceWebSocket, message: dict[str, Any]) -> None:
        if message.get("op") == DiscordVoiceWebSocket.RESUMED:
            self._resumed.set()

    def _stall_limit_s(self) -> float | None:
        """How long the websocket may stay silent; None before HELLO started the heartbeat."""
        keep_alive = getattr(self.ws, "_keep_alive", None)
        period = getattr(keep_alive, "interval", None)
        if not isinstance(period, int | float) or period <= 0:
            return None
        return STALL_HEARTBEATS * period + STALL_MARGIN_S

    async def _poll_voice_ws(self, reconnect: bool) -> None:
        loop = asyncio.get_running_loop()
        while True:
            polled_at = loop.time()
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the cancellation
                # discord.py's disconnect sends this task, which then hangs the disconnect.
                async with asyncio.timeout(self._stall_limit_s()):
                    await self.ws.poll_event()
            except asyncio.CancelledError:
                return
            except TimeoutError:
                # Ours, or discord.py's 30 s receive timeout: no frame at all, not even an ACK.
                silent_s = round(loop.time() - polled_at, 2)
                if not await self._recover(None, reason="heartbeat_stall", silent_s=silent_s):
                    return
            except discord.ConnectionClosed as exc:
                if exc.code == 1000:
                    # Our own close, or Discord's normal one (as discord.py handles it).
                    if not self._expecting_disconnect:
                        await self.disconnect()
                    return
                if exc.code == 4014:
                    if await self._follow_move():
                        continue
                    return
                if not await self._recover(exc.code):
                    return

    async def _recover(
        self, code: int | None, *, reason: str = "closed", silent_s: float | None = None
    ) -> bool:
        """Handle a close or a stall; True when the connection is up again (keep polling)."""
        guild_id = self.voice_client.guild.id
        drop = classify(code)
        if drop is None:
            stall = {} if silent_s is None else {"silent_s": silent_s}
            log.info("voice.resuming", guild_id=guild_id, close_code=code, reason=reason, **stall)
            if await self._resume():
                log.info("voice.resumed", guild_id=guild_id, close_code=code)
                return True
            drop = VoiceDrop.REJOIN
            log.info("voice.resume_refused", guild_id=guild_id, close_code=code)
        log.warning("voice.dropped", guild_id=guild_id, close_code=code, action=drop.value)
        if drop is VoiceDrop.ENDED:
            await self.disconnect()
        else:
            # No opcode 4 here: rejoining is the lease holder's decision (the session's).
            await self.soft_disconnect(with_state=ConnectionFlowState.disconnected)
        if self.on_drop is not None:
            self.on_drop(drop, code)
        return False

    async def _resume(self) -> bool:
        """RESUME the voice session on a new websocket; False when Discord refused it."""
        # Not connected while resuming: the paced stream holds its place instead of sending.
        self.state = ConnectionFlowState.got_both_voice_updates
        previous = self.ws
        self._resumed.clear()
        try:
            await asyncio.wait_for(self._resume_websocket(), timeout=RESUME_TIMEOUT_S)
        except (discord.ConnectionClosed, TimeoutError, OSError, aiohttp.ClientError):
            return False
        finally:
            if previous is not self.ws:
                # Stops its heartbeat thread; a zombie may never answer the close frame.
                with contextlib.suppress(TimeoutError, OSError, aiohttp.ClientError):
                    await asyncio.wait_for(
                        previous.close(RESUME_CLOSE_CODE), OLD_SOCKET_CLOSE_TIMEOUT_S
                    )
        return True

    async def _resume_websocket(self) -> None:
        self.ws = await self._connect_websocket(resume=True)
        while not self._resumed.is_set():
            await self.ws.poll_event()
        # Map our SSRC again before the paced stream sends (as discord.js does after RESUMED).
        await self.ws.speak(discord.SpeakingState.voice)
        self.state = ConnectionFlowState.connected

    async def _follow_move(self) -> bool:
        """4014, as discord.py 2.7 handles it: True when we were moved and followed."""
        if not self._disconnected.is_set() and await self._potential_reconnect():
            return True
        # Kicked (or the channel deleted): the VOICE_STATE_UPDATE without a channel tells the
        # session; leaving again is harmless.
        log.info("voice.disconnected_by_discord", guild_id=self.guild.id, close_code=4014)
        if self.state is not ConnectionFlowState.disconnected:
            await self.disconnect()
        return False


class RecoveringVoiceClient(discord.VoiceClient):
    """A VoiceClient whose connection follows the close-code policy of this module."""

    def __init__(
        self,
        client: discord.Client,
        channel: discord.abc.Connectable,
        *,
        on_drop: DropHandler | None = None,
    ) -> None:
        self._on_drop = on_drop  # read by create_connection_state, called from __init__
        super().__init__(client, channel)

    def create_connection_state(self) -> VoiceConnectionState:
        """discord.py's hook for the connection state class."""
        state = RecoveringConnectionState(self)
        state.on_drop = self._on_drop
        return state
