"""The voice gateway (v8 over wss): identify, ready, select protocol, session description."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from fake_discord.core import Core
from fake_discord.ear import Ear
from fake_discord.gateway import Connection
from fake_discord.opus import OpusDecoder
from fake_discord.udp import SUPPORTED_MODES, VoiceMedia, VoiceUdp
from fake_discord.voice_control import VoiceControl

_log = logging.getLogger(__name__)

JSON = dict[str, Any]
# Voice close codes (Discord docs, "Voice Close Event Codes").
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTH_FAILED = 4001, 4002, 4003, 4004
ALREADY_AUTHENTICATED, SESSION_INVALID, UNKNOWN_PROTOCOL = 4005, 4006, 4012
UNKNOWN_ENCRYPTION_MODE, DAVE_REQUIRED = 4016, 4017
_DAVE_OPCODES = frozenset({21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31})

DecoderFactory = Callable[[], OpusDecoder | None]


@dataclass
class VoiceConnection:
    """One voice websocket and the media it negotiated."""

    guild_id: str
    conn: Connection
    media: VoiceMedia | None = None
    session_id: str = ""
    token: str = ""
    seq: int = 0
    heartbeats: int = 0
    open: bool = True
    speaking_updates: list[JSON] = field(default_factory=list)
    transport: asyncio.Transport | None = None
    # Fault control: heartbeats are counted but not acknowledged (a zombied voice server).
    acks_stalled: bool = False

    def send(self, op: int, data: Any, *, sequenced: bool = True) -> None:
        """Send a JSON op; v8 numbers server messages with ``seq`` for the client's seq_ack."""
        payload: JSON = {"op": op, "d": data}
        if sequenced:
            self.seq += 1
            payload["seq"] = self.seq
        self.conn.send(payload)


class VoiceGatewayServer:
    """Serves ``wss://host:port/?v=8`` for every guild; media arrives on :class:`VoiceUdp`."""

    def __init__(
        self,
        core: Core,
        voice: VoiceControl,
        udp: VoiceUdp,
        decoder: DecoderFactory,
        *,
        modes: Sequence[str] = SUPPORTED_MODES,
        require_dave_capable: bool = True,
        heartbeat_interval_ms: int = 13_750,
    ) -> None:
        unknown = set(modes) - set(SUPPORTED_MODES)
        if unknown:
            raise ValueError(f"unsupported voice modes {sorted(unknown)}")
        self._core = core
        self._voice = voice
        self._udp = udp
        self._decoder = decoder
        self.modes = list(modes)
        self.require_dave_capable = require_dave_capable
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.connections: dict[str, list[VoiceConnection]] = {}
        self.ears: dict[str, list[Ear]] = {}
        voice.close_voice = self.close_guild

    def add_routes(self, app: web.Application) -> None:
        """Mount the voice gateway at ``/``."""
        app.router.add_get("/", self._handle)

    def close_guild(self, guild_id: str, code: int) -> None:
        """Close a guild's open voice connections (and stop accepting their media)."""
        for voice_conn in self.connections.get(guild_id, []):
            if voice_conn.open:
                voice_conn.open = False
                voice_conn.conn.close(code)
            if voice_conn.media is not None:
                self._udp.media.pop(voice_conn.media.ssrc, None)

    def drop_guild(self, guild_id: str) -> None:
        """Fault control: cut a guild's open voice websockets without a close frame (the client
        sees 1006); the voice session and its media stay, so a RESUME can work."""
        for voice_conn in self.connections.get(guild_id, []):
            if voice_conn.open and voice_conn.transport is not None:
                voice_conn.open = False
                voice_conn.transport.abort()

    def stall_heartbeat_acks(self, guild_id: str) -> None:
        """Fault control: a guild's open voice websockets stop answering heartbeats (and stay
        open); media keeps flowing, as when only the voice server's websocket side hangs."""
        for voice_conn in self.connections.get(guild_id, []):
            if voice_conn.open:
                voice_conn.acks_stalled = True

    def current_ear(self, guild_id: str) -> Ear | None:
        """The ear of the guild's latest connection (or latest reset)."""
        ears = self.ears.get(guild_id)
        return ears[-1] if ears else None

    def reset_ear(self, guild_id: str) -> Ear | None:
        """Start a fresh report on the guild's live media (the old one stays readable)."""
        live = [c.media for c in self.connections.get(guild_id, []) if c.open and c.media]
        if not live:
            return None
        media = live[-1]
        ear = Ear(guild_id, media.ssrc, self._decoder())
        ear.mode = media.mode
        media.ear = ear
        self.ears.setdefault(guild_id, []).append(ear)
        return ear

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, compress=False)
        voice_conn = VoiceConnection("", conn, transport=request.transport)
        try:
            if request.query.get("v") != "8":
                self._fail(
                    voice_conn,
                    UNKNOWN_PROTOCOL,
                    f"voice gateway version {request.query.get('v')!r} (expected 8)",
                )
            else:
                voice_conn.send(
                    8, {"heartbeat_interval": self.heartbeat_interval_ms, "v": 8}, sequenced=False
                )
                await self._serve(ws, voice_conn)
        finally:
            voice_conn.open = False
            await conn.finish()
        return ws

    def _fail(self, voice_conn: VoiceConnection, code: int, reason: str) -> None:
        self._core.recorder.fail(
            "voice", reason, {"guild_id": voice_conn.guild_id, "close_code": code}
        )
        voice_conn.open = False
        voice_conn.conn.close(code)

    async def _serve(self, ws: web.WebSocketResponse, vc: VoiceConnection) -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                self._core.recorder.fail(
                    "voice",
                    "binary (DAVE/MLS) frame with DAVE version 0",
                    {"opcode": msg.data[0] if msg.data else None},
                )
                continue
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                payload = json.loads(msg.data)
                op, data = payload["op"], payload.get("d")
            except (ValueError, KeyError, TypeError):
                self._fail(vc, DECODE_ERROR, "undecodable voice payload")
                break
            if op == 3:
                self._heartbeat(vc, data)
            elif op == 0:
                if vc.media is not None:
                    self._fail(vc, ALREADY_AUTHENTICATED, "voice identify sent twice")
                    break
                if not self._identify(vc, data):
                    break
            elif op == 7:
                if not self._resume(vc, data):
                    break
            elif vc.media is None:
                self._fail(vc, NOT_AUTHENTICATED, f"voice opcode {op} before identify")
                break
            elif op == 1:
                if not self._select_protocol(vc, data):
                    break
            elif op == 5:
                self._speaking(vc, data)
            elif op in _DAVE_OPCODES:
                self._core.recorder.fail("voice", f"DAVE opcode {op} with DAVE version 0", data)
            else:
                self._fail(vc, UNKNOWN_OPCODE, f"unknown voice opcode {op}")
                break

    def _heartbeat(self, vc: VoiceConnection, data: Any) -> None:
        vc.heartbeats += 1
        if not isinstance(data, dict) or "seq_ack" not in data:
            self._core.recorder.fail("voice", "v8 heartbeat without seq_ack", data)
            data = data if isinstance(data, dict) else {}
        if not vc.acks_stalled:
            vc.send(6, {"t": data.get("t")}, sequenced=False)

    def _identify(self, vc: VoiceConnection, data: Any) -> bool:
        data = data if isinstance(data, dict) else {}
        guild_id = str(data.get("server_id"))
        grant = self._voice.grants.get(guild_id)
        if (
            grant is None
            or data.get("token") != grant.token
            or str(data.get("user_id")) != self._core.bot.id
        ):
            self._fail(vc, AUTH_FAILED, "voice identify does not match a VOICE_SERVER_UPDATE")
            return False
        if data.get("session_id") != grant.session_id:
            self._fail(vc, SESSION_INVALID, "voice identify with another gateway session's id")
            return False
        dave = data.get("max_dave_protocol_version")
        if self.require_dave_capable and (not isinstance(dave, int) or dave < 1):
            self._fail(
                vc,
                DAVE_REQUIRED,
                "client is not DAVE-capable (max_dave_protocol_version "
                f"{dave!r}); Discord requires DAVE since March 2026",
            )
            return False
        # One bot voice connection per guild: a new identify replaces the old connection.
        self.close_guild(guild_id, 4014)
        vc.guild_id, vc.session_id, vc.token = guild_id, grant.session_id, grant.token
        ssrc = secrets.randbelow(2**31 - 1) + 1
        while ssrc in self._udp.media:
            ssrc = secrets.randbelow(2**31 - 1) + 1
        ear = Ear(guild_id, ssrc, self._decoder())
        self.ears.setdefault(guild_id, []).append(ear)
        vc.media = VoiceMedia(guild_id, ssrc, ear)
        self._udp.media[ssrc] = vc.media
        self.connections.setdefault(guild_id, []).append(vc)
        vc.send(
            2,
            {
                "ssrc": ssrc,
                "ip": self._core.voice_host,
                "port": self._udp.port,
                "modes": self.modes,
                "experiments": [],
                "streams": [],
            },
        )
        self._core.changes.pulse()
        return True

    def _resume(self, vc: VoiceConnection, data: Any) -> bool:
        data = data if isinstance(data, dict) else {}
        guild_id = str(data.get("server_id"))
        previous = next(
            (
                c
                for c in reversed(self.connections.get(guild_id, []))
                if c.media is not None and c.media.ssrc in self._udp.media
            ),
            None,
        )
        if (
            previous is None
            or previous.session_id != data.get("session_id")
            or previous.token != data.get("token")
        ):
            self._fail(vc, SESSION_INVALID, "voice resume of an unknown session")
            return False
        if previous.open:
            previous.open = False
            previous.conn.close(4006)
        vc.guild_id, vc.session_id, vc.token = guild_id, previous.session_id, previous.token
        vc.media, vc.seq = previous.media, previous.seq
        self.connections[guild_id].append(vc)
        vc.send(9, None)
        return True

    def _select_protocol(self, vc: VoiceConnection, data: Any) -> bool:
        assert vc.media is not None
        data = data if isinstance(data, dict) else {}
        if data.get("protocol") != "udp":
            self._fail(vc, UNKNOWN_PROTOCOL, f"select protocol {data.get('protocol')!r}")
            return False
        details = data.get("data") if isinstance(data.get("data"), dict) else {}
        mode = details.get("mode")
        if mode not in self.modes:
            self._fail(vc, UNKNOWN_ENCRYPTION_MODE, f"encryption mode {mode!r} was not offered")
            return False
        address = (details.get("address"), details.get("port"))
        if vc.media.discovered is None:
            self._core.recorder.fail("voice", "select protocol before UDP IP discovery")
        elif address != vc.media.discovered:
            self._core.recorder.fail(
                "voice",
                "select protocol address differs from discovery",
                {"sent": address, "discovered": vc.media.discovered},
            )
        key = secrets.token_bytes(32)
        vc.media.set_key(mode, key)
        vc.send(
            4,
            {
                "mode": mode,
                "secret_key": list(key),
                "dave_protocol_version": 0,
                "audio_codec": "opus",
                "video_codec": "H264",
                "media_session_id": secrets.token_hex(16),
            },
        )
        guild = self._core.guilds[vc.guild_id]
        state = guild.voice_states.get(self._core.bot.id)
        others = (
            [u for u in guild.users_in_channel(state.channel_id) if u != self._core.bot.id]
            if state
            else []
        )
        if others:
            vc.send(11, {"user_ids": others})
        self._core.changes.pulse()
        return True

    def _speaking(self, vc: VoiceConnection, data: Any) -> None:
        assert vc.media is not None
        data = data if isinstance(data, dict) else {}
        vc.speaking_updates.append(data)
        if data.get("ssrc") != vc.media.ssrc:
            self._core.recorder.fail("voice", "speaking with a foreign SSRC", data)
            return
        vc.media.speaking = bool(data.get("speaking"))
