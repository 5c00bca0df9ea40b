"""The worker's gateway session: a minimal discord.py Client that keeps voice states.

Intents are guilds + voice_states only; the member cache keeps members in voice (enough to
find the requester's channel, which an interaction payload doesn't carry). Reconnecting is
discord.py's: with ``reconnect=True`` it resumes on network errors (exponential backoff) and on
closes it can handle, and raises on the ones it can't (4004, 4010-4014). Every IDENTIFY goes
through an IdentifyGate, so a session that keeps dying backs off instead of spending the daily
identify budget. Fatal closes (bad token, DAVE required, bad intents) stop the client with a
FatalConfigError instead of being retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import structlog
from discord.gateway import KeepAliveHandler

from shared.settings import Settings
from voice_worker.endpoints import make_connector
from voice_worker.errors import FatalConfigError, dave_required, token_rejected
from voice_worker.identify import IdentifyGate, SessionStartLimit

log = structlog.get_logger(__name__)

RawInteractionSink = Callable[[dict[str, Any]], Awaitable[None]]
VoiceChange = Callable[[int, int, int | None], None]

# Gateway closes that no retry can fix, with what the operator must change.
_FATAL_CLOSES: dict[int, Callable[[], FatalConfigError]] = {
    4004: token_rejected,
    4017: dave_required,
    4013: lambda: FatalConfigError("invalid_intents", "the worker sent invalid intents"),
    4014: lambda: FatalConfigError(
        "disallowed_intents", "enable the requested intents for the application"
    ),
}


# Closes discord.py itself refuses to reconnect after (it raises ConnectionClosed).
_DISCORD_PY_RAISES = frozenset({4004, 4010, 4011, 4012, 4013, 4014})


def _drop_interactions_url_notice(record: logging.LogRecord) -> bool:
    # discord.py warns when the application has an interactions URL: that is exactly the
    # cloud set-up (interactions go to the Lambda), not a problem.
    return not record.getMessage().startswith("Application has an interaction endpoint URL")


def worker_intents() -> discord.Intents:
    """Guilds and voice states: nothing privileged, nothing the worker doesn't read."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    return intents


class GatewayClient(discord.Client):
    """discord.Client configured from settings, with paced identifies and fatal-close handling."""

    def __init__(
        self,
        settings: Settings,
        *,
        identify_gate: IdentifyGate,
        on_voice_change: VoiceChange | None = None,
        gateway_interactions: bool = False,
    ) -> None:
        super().__init__(
            intents=worker_intents(),
            member_cache_flags=discord.MemberCacheFlags(voice=True, joined=False),
            chunk_guilds_at_startup=False,
            guild_ready_timeout=settings.worker_guild_ready_timeout_s,
            connector=make_connector(settings),
            # Raw gateway frames are only needed to read INTERACTION_CREATE in embedded mode.
            enable_debug_events=gateway_interactions,
        )
        if not gateway_interactions:
            logging.getLogger("discord.client").addFilter(_drop_interactions_url_notice)
        self._identify_gate = identify_gate
        self._raw_interactions: RawInteractionSink | None = None
        self._on_voice_change = on_voice_change
        self.fatal: FatalConfigError | None = None
        self.ready_event = asyncio.Event()
        self._session: asyncio.Task[Any] | None = None

    def attach_interactions(self, sink: RawInteractionSink) -> None:
        """Embedded mode: send INTERACTION_CREATE payloads to ``sink``."""
        self._raw_interactions = sink

    async def setup_hook(self) -> None:
        """Read the identify budget before the first IDENTIFY."""
        try:
            _, _, limit = await self.http.get_bot_gateway()
        except discord.GatewayNotFound:
            log.warning("identify.budget_unknown")
            return
        set_limit = getattr(self._identify_gate, "set_limit", None)
        if set_limit is not None:
            set_limit(SessionStartLimit.from_payload(dict(limit)))

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Replace discord.py's fixed 5 s sleep with the gate's pacing and backoff."""
        await self._identify_gate.wait_turn(initial=initial)

    async def on_ready(self) -> None:
        """Log the session's guilds once connected."""
        self.ready_event.set()
        log.info("gateway.ready", guilds=len(self.guilds), user_id=self.user.id if self.user else 0)

    async def on_resumed(self) -> None:
        """A RESUME worked: no identify was spent."""
        log.info("gateway.resumed")

    async def on_disconnect(self) -> None:
        """Stop for good on closes that retrying can't fix; otherwise discord.py reconnects."""
        socket = getattr(self.ws, "socket", None)
        code = getattr(socket, "close_code", None)
        if self.is_closed():
            log.info("gateway.closed", close_code=code)
            return
        log.warning("gateway.disconnected", close_code=code)
        factory = _FATAL_CLOSES.get(code) if isinstance(code, int) else None
        if factory is None or code in _DISCORD_PY_RAISES or self.fatal is not None:
            return  # discord.py reconnects, or raises (handled in run_session)
        # discord.py would reconnect (and re-identify) after this close: stop its loop.
        self.fatal = factory()
        log.error("gateway.fatal_close", close_code=code, hint=self.fatal.hint)
        if self._session is not None:
            self._session.cancel()

    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """Tell the sessions that someone joined or left a voice channel of a guild."""
        if self._on_voice_change is not None:
            channel = after.channel.id if after.channel is not None else None
            self._on_voice_change(member.guild.id, member.id, channel)

    async def on_socket_raw_receive(self, message: str) -> None:
        """Embedded mode: hand INTERACTION_CREATE payloads to the interactions router."""
        if self._raw_interactions is None or '"INTERACTION_CREATE"' not in message:
            return
        frame = json.loads(message)
        if frame.get("t") == "INTERACTION_CREATE" and isinstance(frame.get("d"), dict):
            await self._raw_interactions(frame["d"])

    async def close(self) -> None:
        """Close, then stop heartbeat threads of any websocket discord.py abandoned.

        Closing while a new websocket waits in before_identify_hook (our identify pacing can
        hold it for minutes) leaves that websocket's KeepAliveHandler thread running; it would
        later heartbeat into a closed loop.
        """
        await super().close()
        for thread in threading.enumerate():
            if not isinstance(thread, KeepAliveHandler):
                continue
            # Voice websockets (VoiceKeepAliveHandler) have no _dispatch: not ours to stop.
            if getattr(thread.ws, "_dispatch", None) == self.dispatch:
                thread.stop()

    async def run_session(self, token: str) -> None:
        """Log in and hold the gateway session until closed; raise FatalConfigError if fatal."""
        self._session = session = asyncio.current_task()
        try:
            await self.start(token, reconnect=True)
        except asyncio.CancelledError:
            if self.fatal is None:
                raise
            if session is not None:
                session.uncancel()  # our own cancel, from on_disconnect
        except discord.LoginFailure:
            self.fatal = token_rejected()
        except discord.PrivilegedIntentsRequired:
            self.fatal = _FATAL_CLOSES[4014]()
        except discord.ConnectionClosed as exc:
            factory = _FATAL_CLOSES.get(exc.code)
            if factory is None:
                raise
            self.fatal = factory()
        if self.fatal is not None:
            await self.close()
            log.error("gateway.fatal", reason=self.fatal.reason, hint=self.fatal.hint)
            raise self.fatal
