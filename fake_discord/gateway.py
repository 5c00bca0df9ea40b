"""The main gateway (v10, JSON, optional zlib-stream): identify, resume, dispatch, opcode 4."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import zlib
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from fake_discord.core import (
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_VOICE_STATES,
    INTENT_GUILDS,
    KNOWN_INTENTS,
    PRIVILEGED_INTENTS,
    Core,
)
from fake_discord.payloads import guild_create_payload, member_payload, user_payload
from fake_discord.voice_control import VoiceControl
from fake_discord.world import shard_for

_log = logging.getLogger(__name__)

JSON = dict[str, Any]
_MAX_PAYLOAD_BYTES = 4096
_SEND_LIMIT = 120  # client messages per 60 s before close 4008
_BUFFER_EVENTS = 2000
# Close codes (Discord docs, "Gateway Close Event Codes").
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTH_FAILED = 4001, 4002, 4003, 4004
ALREADY_AUTHENTICATED, RATE_LIMITED, INVALID_SHARD = 4005, 4008, 4010
INVALID_VERSION, INVALID_INTENTS, DISALLOWED_INTENTS = 4012, 4013, 4014


class Connection:
    """One websocket; sends go through a queue so they stay ordered and never block callers."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self._zlib = zlib.compressobj() if compress else None
        self._queue: asyncio.Queue[str | int] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write())
        self.received: deque[float] = deque()

    def send(self, payload: JSON) -> None:
        """Queue a payload."""
        self._queue.put_nowait(json.dumps(payload))

    def close(self, code: int) -> None:
        """Queue a close frame after everything already queued."""
        self._queue.put_nowait(code)

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, int):
                await self.ws.close(code=item)
                return
            try:
                if self._zlib is None:
                    await self.ws.send_str(item)
                else:
                    data = self._zlib.compress(item.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                return

    async def finish(self) -> None:
        """Flush queued frames (a queued close included), close, and stop the writer."""
        self._queue.put_nowait(1000)
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), 5.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)


class Session:
    """A gateway session: survives its connection until resumed, invalidated or timed out."""

    def __init__(self, shard: tuple[int, int], intents: int) -> None:
        self.session_id = secrets.token_hex(16)
        self.shard_id, self.shard_count = shard
        self.intents = intents
        self.seq = 0
        self.buffer: deque[tuple[int, JSON]] = deque(maxlen=_BUFFER_EVENTS)
        self.connection: Connection | None = None
        self.ended = False

    def covers(self, guild_id: str) -> bool:
        """Whether this session's shard receives events for a guild."""
        return shard_for(guild_id, self.shard_count) == self.shard_id

    def dispatch(self, event: str, data: JSON) -> None:
        """Send (and buffer for resume) a dispatch event."""
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.buffer.append((self.seq, payload))
        if self.connection is not None:
            self.connection.send(payload)


class GatewayServer:
    """Serves ``ws://host:port/?v=10&encoding=json[&compress=zlib-stream]``."""

    def __init__(
        self,
        core: Core,
        *,
        heartbeat_interval_ms: int = 41_250,
        resume_window_s: float = 60.0,
        privileged_intents: int = 0,
    ) -> None:
        self._core = core
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.resume_window_s = resume_window_s
        self.privileged_intents = privileged_intents
        self.sessions: dict[str, Session] = {}
        self.voice = VoiceControl(core, self.send_to_session)
        core.dispatch_guild = self.dispatch_guild

    def add_routes(self, app: web.Application) -> None:
        """Mount the gateway at ``/``."""
        app.router.add_get("/", self._handle)

    # --- fan-out ------------------------------------------------------------------------------
    def dispatch_guild(self, guild_id: str, event: str, data: JSON, intent: int | None) -> None:
        """Send a guild event to every live session whose shard and intents cover it."""
        for session in list(self.sessions.values()):
            if session.ended or not session.covers(guild_id):
                continue
            if intent is None or session.intents & intent:
                session.dispatch(event, data)

    def send_to_session(self, session_id: str, event: str, data: JSON) -> None:
        """Send an event to one session (VOICE_SERVER_UPDATE goes only to the requester)."""
        session = self.sessions.get(session_id)
        if session is not None and not session.ended:
            session.dispatch(event, data)

    # --- test controls ------------------------------------------------------------------------
    def live_sessions(self) -> list[Session]:
        """Sessions that have not ended."""
        return [s for s in self.sessions.values() if not s.ended]

    def request_reconnect(self) -> None:
        """Send opcode 7 to every connection (clients should resume)."""
        for session in self.live_sessions():
            if session.connection is not None:
                session.connection.send({"op": 7, "d": None})

    def invalidate(self, resumable: bool = False) -> None:
        """Send opcode 9; a non-resumable invalidation ends the sessions."""
        for session in self.live_sessions():
            if session.connection is not None:
                session.connection.send({"op": 9, "d": resumable})
            if not resumable:
                self._end(session)

    def drop_connections(self, code: int = 4000) -> None:
        """Close every connection with ``code``, keeping sessions resumable."""
        for session in self.live_sessions():
            if session.connection is not None:
                session.connection.close(code)

    def _end(self, session: Session) -> None:
        if not session.ended:
            session.ended = True
            self.voice.session_ended(session.session_id)

    # --- the connection loop --------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        query = request.query
        compress = query.get("compress")
        conn = Connection(ws, compress == "zlib-stream")
        try:
            if query.get("v") != "10":
                self._reject(conn, INVALID_VERSION, f"gateway version {query.get('v')!r}")
            elif query.get("encoding", "json") != "json":
                self._reject(conn, DECODE_ERROR, "only encoding=json is served")
            elif compress not in (None, "zlib-stream"):
                self._reject(conn, DECODE_ERROR, f"compress={compress} is not served by the fake")
            else:
                conn.send(
                    {
                        "op": 10,
                        "d": {
                            "heartbeat_interval": self.heartbeat_interval_ms,
                            "_trace": ["fake-discord-gateway"],
                        },
                    }
                )
                await self._serve(ws, conn)
        finally:
            await conn.finish()
        return ws

    def _reject(self, conn: Connection, code: int, reason: str) -> None:
        self._core.recorder.fail("gateway", reason, {"close_code": code})
        conn.close(code)

    async def _serve(self, ws: web.WebSocketResponse, conn: Connection) -> None:
        session: Session | None = None
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            raw = msg.data if isinstance(msg.data, str) else msg.data.decode("utf-8", "replace")
            now = time.monotonic()
            conn.received.append(now)
            while conn.received and conn.received[0] < now - 60:
                conn.received.popleft()
            if len(conn.received) > _SEND_LIMIT:
                self._reject(conn, RATE_LIMITED, "more than 120 gateway events in 60 s")
                break
            if len(raw.encode()) > _MAX_PAYLOAD_BYTES:
                self._reject(conn, DECODE_ERROR, "gateway payload larger than 4096 bytes")
                break
            try:
                payload = json.loads(raw)
                op, data = payload["op"], payload.get("d")
            except (ValueError, KeyError, TypeError):
                self._reject(conn, DECODE_ERROR, "undecodable gateway payload")
                break
            if op == 1:
                conn.send({"op": 11, "d": None})
            elif op == 2:
                if session is not None:
                    self._reject(conn, ALREADY_AUTHENTICATED, "identify sent twice")
                    break
                session = self._identify(conn, data)
                if session is None:
                    break
            elif op == 6:
                session = self._resume(conn, data)
            elif session is None:
                self._reject(conn, NOT_AUTHENTICATED, f"opcode {op} before identify")
                break
            elif op == 4:
                self._voice_state(session, data)
            elif op == 8:
                self._request_members(session, data)
            elif op == 3:
                continue
            else:
                self._reject(conn, UNKNOWN_OPCODE, f"unknown gateway opcode {op}")
                break
        if session is not None and session.connection is conn:
            session.connection = None
            if ws.close_code in (1000, 1001):
                self._end(session)  # a clean close ends the session on Discord
            else:
                asyncio.get_running_loop().call_later(
                    self.resume_window_s, self._expire, session.session_id
                )

    def _expire(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None and session.connection is None:
            self._end(session)

    def _identify(self, conn: Connection, data: Any) -> Session | None:
        core = self._core
        if not isinstance(data, dict) or data.get("token") != core.bot_token:
            self._reject(conn, AUTH_FAILED, "identify with a wrong token")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int) or intents & ~KNOWN_INTENTS:
            self._reject(conn, INVALID_INTENTS, f"invalid intents {intents!r}")
            return None
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            self._reject(conn, DISALLOWED_INTENTS, "privileged intents not enabled for the app")
            return None
        shard = data.get("shard", [0, 1])
        if not isinstance(shard, list) or len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            self._reject(conn, INVALID_SHARD, f"invalid shard {shard!r}")
            return None
        now = time.monotonic()
        if core.identify_times and now - core.identify_times[-1] < 5.0:
            core.recorder.fail("gateway", "two identifies within 5 s (max_concurrency is 1)")
        if core.session_start_remaining() == 0:
            core.recorder.fail("gateway", "identify with no session starts left")
            conn.send({"op": 9, "d": False})
            return None
        core.identify_times.append(now)
        session = Session((shard[0], shard[1]), intents)
        session.connection = conn
        self.sessions[session.session_id] = session
        guilds = [g for g in core.guilds.values() if session.covers(g.id)]
        ready: JSON = {
            "v": 10,
            "user": {**user_payload(core.bot), "verified": True, "mfa_enabled": True},
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": core.gateway_url,
            "application": {"id": core.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": ["fake"],
            "_trace": ["fake-discord-gateway"],
        }
        if "shard" in data:
            ready["shard"] = shard
        session.dispatch("READY", ready)
        for guild in guilds:
            session.dispatch(
                "GUILD_CREATE",
                guild_create_payload(
                    guild,
                    voice_intent=bool(intents & INTENT_GUILD_VOICE_STATES),
                    members_intent=bool(intents & INTENT_GUILD_MEMBERS),
                ),
            )
        if not intents & INTENT_GUILDS:
            core.recorder.fail("gateway", "identify without the GUILDS intent")
        core.changes.pulse()
        return session

    def _resume(self, conn: Connection, data: Any) -> Session | None:
        data = data if isinstance(data, dict) else {}
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        oldest = session.buffer[0][0] if session is not None and session.buffer else 1
        if (
            session is None
            or session.ended
            or data.get("token") != self._core.bot_token
            or seq < oldest - 1
        ):
            conn.send({"op": 9, "d": False})
            return None
        if session.connection is not None and session.connection is not conn:
            session.connection.close(4000)
        session.connection = conn
        for event_seq, payload in list(session.buffer):
            if event_seq > seq:
                conn.send(payload)
        session.dispatch("RESUMED", {"_trace": ["fake-discord-gateway"]})
        return session

    def _voice_state(self, session: Session, data: Any) -> None:
        if not isinstance(data, dict) or "guild_id" not in data or "channel_id" not in data:
            self._core.recorder.fail("gateway", "malformed opcode 4", data)
            return
        guild_id = str(data["guild_id"])
        if guild_id in self._core.guilds and not session.covers(guild_id):
            self._core.recorder.fail("gateway", "opcode 4 for a guild of another shard", guild_id)
            return
        channel = data["channel_id"]
        self.voice.request(
            session.session_id,
            guild_id,
            None if channel is None else str(channel),
            bool(data.get("self_mute")),
            bool(data.get("self_deaf")),
        )

    def _request_members(self, session: Session, data: Any) -> None:
        guild = self._core.guilds.get(str((data or {}).get("guild_id")))
        if guild is None:
            return
        session.dispatch(
            "GUILD_MEMBERS_CHUNK",
            {
                "guild_id": guild.id,
                "members": [member_payload(m) for m in guild.members.values()],
                "chunk_index": 0,
                "chunk_count": 1,
                "nonce": (data or {}).get("nonce"),
            },
        )

    def dispatch_interaction(self, guild_id: str | None, payload: JSON) -> int:
        """INTERACTION_CREATE to the sessions covering the guild; returns how many got it."""
        count = 0
        for session in self.live_sessions():
            if guild_id is None or session.covers(guild_id):
                session.dispatch("INTERACTION_CREATE", payload)
                count += 1
        return count
