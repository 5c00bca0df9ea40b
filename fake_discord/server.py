"""FakeDiscord: starts the REST, gateway, voice gateway and UDP servers and drives them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from fake_discord.controls import add_control_routes
from fake_discord.core import Core, SeededGuild
from fake_discord.delivery import HttpDelivery
from fake_discord.ear import EarReport
from fake_discord.faults import Fault
from fake_discord.gateway import GatewayServer
from fake_discord.interactions import InteractionRecord, InteractionType
from fake_discord.opus import OpusDecoder, OpusLibrary
from fake_discord.records import Failure, RecordedRequest
from fake_discord.rest import RestApi
from fake_discord.tls import TlsMaterial, make_tls
from fake_discord.udp import SUPPORTED_MODES, VoiceUdp
from fake_discord.voice_gateway import VoiceGatewayServer
from fake_discord.world import GuildSpec, Member, Role, User, iso_now

_log = logging.getLogger(__name__)

JSON = dict[str, Any]


class FakeDiscord:
    """A fake Discord on 127.0.0.1 (ephemeral ports); use ``async with FakeDiscord() as fake``."""

    def __init__(
        self,
        guilds: int | Sequence[GuildSpec] = 1,
        *,
        host: str = "127.0.0.1",
        bot_token: str | None = None,
        interactions_url: str | None = None,
        privileged_intents: int = 0,
        require_dave_capable: bool = True,
        voice_modes: Sequence[str] = SUPPORTED_MODES,
        decode_audio: bool = True,
        heartbeat_interval_ms: int = 41_250,
        voice_heartbeat_interval_ms: int = 13_750,
        resume_window_s: float = 60.0,
        initial_response_deadline_s: float = 3.0,
        interaction_token_ttl_s: float = 900.0,
    ) -> None:
        self.host = host
        self.core = Core(
            guilds,
            bot_token=bot_token,
            interactions_url=interactions_url,
            initial_deadline_s=initial_response_deadline_s,
            token_ttl_s=interaction_token_ttl_s,
        )
        self.core.voice_host = host
        self.gateway = GatewayServer(
            self.core,
            heartbeat_interval_ms=heartbeat_interval_ms,
            resume_window_s=resume_window_s,
            privileged_intents=privileged_intents,
        )
        self._udp = VoiceUdp(self.core.recorder, host)
        self._opus: OpusLibrary | None = None
        self._decode_audio = decode_audio
        self.voice = VoiceGatewayServer(
            self.core,
            self.gateway.voice,
            self._udp,
            self._new_decoder,
            modes=voice_modes,
            require_dave_capable=require_dave_capable,
            heartbeat_interval_ms=voice_heartbeat_interval_ms,
        )
        self._runners: list[web.AppRunner] = []
        self._tls: TlsMaterial | None = None
        self._http: aiohttp.ClientSession | None = None
        self._delivery: HttpDelivery | None = None
        self.rest_base_url = self.control_base_url = self.gateway_url = ""
        self.voice_endpoint = self.ca_file = ""

    # --- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _serve(self, app: web.Application, ssl_context: Any = None) -> int:
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0, ssl_context=ssl_context)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    async def start(self) -> None:
        """Bind every server on an ephemeral port (the OpenAPI spec loads on first use)."""
        self._tls = await asyncio.to_thread(make_tls, self.host)
        self.ca_file = str(self._tls.ca_file)
        if self._decode_audio:
            self._opus = await asyncio.to_thread(OpusLibrary.load)
        rest_app = web.Application()
        RestApi(self.core).add_routes(rest_app)
        add_control_routes(rest_app, self)
        rest_port = await self._serve(rest_app)
        gateway_app = web.Application()
        self.gateway.add_routes(gateway_app)
        gateway_port = await self._serve(gateway_app)
        voice_app = web.Application()
        self.voice.add_routes(voice_app)
        voice_port = await self._serve(voice_app, self._tls.server_context)
        self._udp.open()
        self.rest_base_url = f"http://{self.host}:{rest_port}/api/v10"
        self.control_base_url = f"http://{self.host}:{rest_port}/_fake"
        self.gateway_url = self.core.gateway_url = f"ws://{self.host}:{gateway_port}/"
        self.voice_endpoint = self.core.voice_endpoint = f"{self.host}:{voice_port}"
        # Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive: reusing one
        # the server is closing at that moment fails the POST with ECONNRESET (seen in
        # tests/failover/ after a pause of about 5 s between commands).
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=2.0))
        self._delivery = HttpDelivery(self.core, self._http)
        _log.info(
            "fake discord started: REST %s, gateway %s, voice %s",
            self.rest_base_url,
            self.gateway_url,
            self.voice_endpoint,
        )

    async def stop(self) -> None:
        """Close every connection and server, and delete the CA file."""
        self.gateway.drop_connections(1001)
        for guild_id in list(self.voice.connections):
            self.voice.close_guild(guild_id, 1001)
        await asyncio.sleep(0)
        if self._http is not None:
            await self._http.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        self._udp.close()
        for ears in self.voice.ears.values():
            for ear in ears:
                ear.close()
        if self._tls is not None:
            await asyncio.to_thread(self._tls.cleanup)

    def _new_decoder(self) -> OpusDecoder | None:
        return OpusDecoder(self._opus) if self._opus is not None else None

    # --- identity -----------------------------------------------------------------------------
    @property
    def bot_token(self) -> str:
        """The bot token the fake accepts."""
        return self.core.bot_token

    @property
    def application_id(self) -> str:
        """The application's (and bot user's) id."""
        return self.core.application_id

    @property
    def bot_user_id(self) -> str:
        """The bot user's id."""
        return self.core.bot.id

    @property
    def public_key(self) -> str:
        """The application's Ed25519 public key, hex (what the developer portal shows)."""
        return self.core.public_key_hex

    @property
    def guilds(self) -> list[SeededGuild]:
        """The seeded guilds."""
        return self.core.seeded

    @property
    def interactions_url(self) -> str | None:
        """Where HTTP interactions are POSTed (None: gateway delivery)."""
        return self.core.interactions_url

    @interactions_url.setter
    def interactions_url(self, url: str | None) -> None:
        self.core.interactions_url = url

    def describe(self) -> JSON:
        """Everything a client needs, as one JSON-able dict (the CLI prints this)."""
        return {
            "rest_base_url": self.rest_base_url,
            "gateway_url": self.gateway_url,
            "voice_endpoint": self.voice_endpoint,
            "control_base_url": self.control_base_url,
            "bot_token": self.bot_token,
            "application_id": self.application_id,
            "bot_user_id": self.bot_user_id,
            "public_key": self.public_key,
            "ca_file": self.ca_file,
            "interactions_url": self.interactions_url,
            "guilds": [g.to_json() for g in self.guilds],
        }

    # --- voice --------------------------------------------------------------------------------
    def _guild_id(self, guild: str | int | None) -> str:
        return self.core.guild(guild).id

    def move_user(
        self,
        guild: str | int | None = None,
        channel_id: str | bool | None = True,
        user_id: str | None = None,
        *,
        self_deaf: bool = False,
    ) -> None:
        """Move the seeded (or given) user into the guild's voice channel (``True``), another
        channel by id, or out of voice (``None``), deafened with ``self_deaf``; dispatches
        VOICE_STATE_UPDATE."""
        g = self.core.guild(guild)
        target = g.voice_channel_id if channel_id is True else channel_id or None
        self.gateway.voice.move_user(g.id, target, user_id, self_deaf=self_deaf)

    def add_member(
        self,
        guild: str | int | None = None,
        *,
        username: str = "listener",
        role_ids: Sequence[str] = (),
        bot: bool = False,
    ) -> str:
        """Add a member (not the owner: only @everyone's permissions and ``role_ids``); returns
        the user id. Nothing is dispatched, as for a bot without the members intent: the bot
        learns about the member from its voice state (``move_user``) or its interactions."""
        g = self.core.guild(guild)
        user = User(self.core.ids.next(), username, bot=bot)
        g.members[user.id] = Member(user, list(role_ids), iso_now())
        return user.id

    def add_role(
        self, guild: str | int | None = None, *, name: str = "DJ", permissions: int = 0
    ) -> str:
        """Add a role to a guild (for ``add_member``'s ``role_ids``); returns its id."""
        g = self.core.guild(guild)
        role_id = self.core.ids.next()
        g.roles[role_id] = Role(role_id, name, permissions, position=len(g.roles))
        return role_id

    def bot_voice_state(self, guild: str | int | None = None) -> JSON | None:
        """The bot's voice state in a guild: ``{channel_id, session_id, ...}`` or None."""
        state = self.gateway.voice.bot_state(self._guild_id(guild))
        return None if state is None else dict(state.__dict__)

    def disconnect_bot(self, guild: str | int | None = None) -> None:
        """Kick the bot from voice: VOICE_STATE_UPDATE (null channel) and close 4014."""
        self.gateway.voice.disconnect_bot(self._guild_id(guild))

    def ear_report(self, guild: str | int | None = None) -> EarReport | None:
        """The latest ear report of a guild (its latest voice connection or reset)."""
        ear = self.voice.current_ear(self._guild_id(guild))
        return None if ear is None else ear.report()

    def ear_reports(self, guild: str | int | None = None) -> list[EarReport]:
        """Every ear report of a guild, oldest first."""
        return [ear.report() for ear in self.voice.ears.get(self._guild_id(guild), [])]

    def reset_ear(self, guild: str | int | None = None) -> bool:
        """Start a new report on the live connection; False when there is none."""
        return self.voice.reset_ear(self._guild_id(guild)) is not None

    async def wait_for_audio(
        self, guild: str | int | None = None, seconds: float = 1.0, timeout_s: float = 30.0
    ) -> EarReport:
        """Wait until the ear has heard ``seconds`` of audio (packets x 20 ms)."""
        guild_id = self._guild_id(guild)

        def heard() -> bool:
            ear = self.voice.current_ear(guild_id)
            return ear is not None and ear.counters["packets"] * 0.02 >= seconds

        await self.core.changes.wait_for(heard, timeout_s)
        report = self.ear_report(guild_id)
        assert report is not None
        return report

    async def wait_for_bot_voice(
        self, guild: str | int | None = None, *, connected: bool = True, timeout_s: float = 30.0
    ) -> None:
        """Wait until the bot is (or is no longer) in a voice channel of the guild."""
        guild_id = self._guild_id(guild)
        await self.core.changes.wait_for(
            lambda: (self.gateway.voice.bot_state(guild_id) is not None) == connected, timeout_s
        )

    # --- records and faults -------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request so far."""
        return list(self.core.recorder.requests)

    @property
    def failures(self) -> list[Failure]:
        """Every protocol violation so far (REST, gateway, voice, UDP, interactions)."""
        return list(self.core.recorder.failures)

    def clear_records(self) -> None:
        """Forget recorded requests and failures."""
        self.core.recorder.clear()

    def assert_no_failures(self) -> None:
        """Raise AssertionError listing the failures, if any."""
        if self.core.recorder.failures:
            lines = "\n".join(
                f"- [{f.source}] {f.reason}: {f.detail!r}"[:600]
                for f in self.core.recorder.failures
            )
            raise AssertionError(f"fake Discord recorded failures:\n{lines}")

    def add_fault(
        self,
        status: int,
        *,
        method: str = "*",
        path: str = "*",
        operation_id: str | None = None,
        times: int | None = 1,
        retry_after_s: float = 1.0,
        is_global: bool = False,
        body: JSON | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching REST requests with ``status`` (429 gets headers)."""
        return self.core.faults.add(
            Fault(status, method, path, operation_id, times, retry_after_s, is_global, body=body)
        )

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.core.faults.clear()

    # --- interactions -------------------------------------------------------------------------
    def mint_interaction(
        self,
        kind: InteractionType | str = InteractionType.APPLICATION_COMMAND,
        *,
        guild: str | int | None = None,
        user_id: str | None = None,
        name: str = "play",
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        custom_id: str = "button",
        message_id: str | None = None,
        focused: str | None = None,
        values: Sequence[str] | None = None,
    ) -> InteractionRecord:
        """Create (not deliver) an interaction; ``kind``: command, component or autocomplete.

        ``values``: the choices of a string select (a component interaction of type 3).
        """
        if isinstance(kind, str):
            kind = {
                "command": InteractionType.APPLICATION_COMMAND,
                "component": InteractionType.MESSAGE_COMPONENT,
                "autocomplete": InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
            }[kind]
        return self.core.ledger.mint(
            self.core.guild(guild),
            kind=kind,
            user_id=user_id,
            name=name,
            options=options,
            custom_id=custom_id,
            message_id=message_id,
            focused=focused,
            values=values,
        )

    async def deliver_http(
        self, record: InteractionRecord, url: str | None = None
    ) -> InteractionRecord:
        """POST a signed interaction to the interactions URL and record the answer."""
        target = url or self.interactions_url
        if target is None or self._delivery is None:
            raise RuntimeError("no interactions URL configured (or the fake is not started)")
        return await self._delivery.deliver(record, target)

    def deliver_gateway(self, record: InteractionRecord) -> int:
        """Dispatch INTERACTION_CREATE; returns how many gateway sessions received it."""
        record.delivered_via = "gateway"
        return self.gateway.dispatch_interaction(record.guild_id, record.payload)

    async def send_interaction(
        self, kind: InteractionType | str = "command", *, via: str = "auto", **mint: Any
    ) -> InteractionRecord:
        """Mint and deliver: over HTTP when an interactions URL is set, else the gateway."""
        record = self.mint_interaction(kind, **mint)
        if via == "http" or (via == "auto" and self.interactions_url):
            return await self.deliver_http(record)
        self.deliver_gateway(record)
        return record

    def interaction(self, interaction_id: str) -> InteractionRecord:
        """An interaction's record by id."""
        return self.core.ledger.by_id[interaction_id]

    def expire_interaction(self, interaction_id: str) -> None:
        """Expire a token early (follow-ups then get 401 50027, as after 15 minutes)."""
        self.core.ledger.by_id[interaction_id].force_expired = True

    async def wait_for_interaction(
        self,
        interaction_id: str,
        predicate: Callable[[InteractionRecord], bool],
        timeout_s: float = 10.0,
    ) -> InteractionRecord:
        """Wait until ``predicate(record)`` holds."""
        record = self.interaction(interaction_id)
        await self.core.changes.wait_for(lambda: predicate(record), timeout_s)
        return record

    async def wait_for_original(
        self,
        interaction_id: str,
        *,
        content: str | None = None,
        contains: str | None = None,
        timeout_s: float = 10.0,
    ) -> InteractionRecord:
        """Wait until @original is complete (not loading) and matches ``content``/``contains``."""

        def done(record: InteractionRecord) -> bool:
            original = record.original
            if original is None or record.original_deleted or original["flags"] & (1 << 7):
                return False
            text = str(original.get("content", ""))
            return (content is None or text == content) and (contains is None or contains in text)

        return await self.wait_for_interaction(interaction_id, done, timeout_s)

    async def check_interactions_endpoint(self, url: str | None = None) -> list[str]:
        """Discord's endpoint check (signed PING and forged PING); returns problems found."""
        target = url or self.interactions_url
        if target is None or self._delivery is None:
            raise RuntimeError("no interactions URL configured (or the fake is not started)")
        return await self._delivery.check_endpoint(target)

    # --- messages and commands ----------------------------------------------------------------
    def channel_messages(self, channel_id: str | None = None) -> list[JSON]:
        """Messages in a channel (default: the first guild's text channel), oldest first."""
        return self.core.messages.list(channel_id or self.core.guild().text_channel_id)

    async def wait_for_channel_message(
        self,
        channel_id: str | None = None,
        *,
        contains: str | None = None,
        predicate: Callable[[JSON], bool] | None = None,
        timeout_s: float = 10.0,
    ) -> JSON:
        """Wait for a message matching ``contains`` (in its content) and/or ``predicate``."""
        found: list[JSON] = []

        def match() -> bool:
            for message in self.channel_messages(channel_id):
                if (contains is None or contains in message.get("content", "")) and (
                    predicate is None or predicate(message)
                ):
                    found.append(message)
                    return True
            return False

        await self.core.changes.wait_for(match, timeout_s)
        return found[0]

    def registered_commands(
        self, guild: str | int | None = None, *, global_scope: bool = False
    ) -> list[JSON]:
        """Commands registered by bulk overwrite (global, or for a guild)."""
        return self.core.commands.list(None if global_scope else self._guild_id(guild))
